import type { VerdictDecision } from '../../../protocol/biometrics.ts';
import type { ReplayIndexes } from '../assurance/replay-index.ts';
import { VigilError } from '../../../protocol/errors.ts';
import type { SampleFrame } from '../../../protocol/frames.ts';
import type { StreamEnd, StreamSink, StreamSpec } from '../../realtime/channel-hooks.ts';
import { errorMessage } from '../../../protocol/messages.ts';
import { TrustAccumulator, type TrustConfig } from '../trust.ts';
import type { ConnectionStream, ContinuousConnection } from './continuous-connection.ts';
import type { ContinuousMetrics } from './continuous-metrics.ts';
import type { EvidencePolicy } from './evidence-policy.ts';
import type { LiveModel } from './live-models.ts';
import type { TrustPolicy } from './trust-policy.ts';
import type { TrustPoint } from './trust-point.ts';
import { WindowAssembler, type WindowTarget } from './window-assembler.ts';
import type { WindowBatcher } from './window-batcher.ts';
import type { WindowSink } from './window-slab.ts';

/** Shared by every verification stream of the process. */
export interface VerifierEnv {
  batcher: WindowBatcher;
  policy: TrustPolicy;
  /** Told of every scored window: the session's evidence that its holder still streams. */
  evidence: Pick<EvidencePolicy, 'scored'>;
  metrics: ContinuousMetrics;
  trust: TrustConfig;
  /** A frame arriving this much later than the stream's best delay counts as late. */
  lateFrameMs: number;
  /** Replay detection: fingerprints (when on) and how far sample times may run ahead of arrival. */
  replay: Pick<ReplayIndexes, 'enabled' | 'fingerprint'>;
  clockSkewMs: number;
  /** Told of every verdict (the operator console's live trust feed). */
  onVerdict?(userId: string, point: TrustPoint): void;
}

/** Windows whose fingerprints are held back from the index: later windows of the stream overlap them. */
const RECENT_WINDOWS = 8;

const round = (value: number) => Math.round(value * 1e4) / 1e4;

/**
 * How the model's channels map onto the stream's: undefined when the orders agree, a
 * permutation when the same names come in another order; throws SAMPLES_SPEC_MISMATCH otherwise.
 */
export function channelMapping(stream: Pick<StreamSpec, 'rate' | 'channels'>, model: LiveModel): Int32Array | undefined {
  const { spec } = model;
  const fail = (reason: string) => new VigilError('SAMPLES_SPEC_MISMATCH', { reason });
  if (spec.kind !== 'samples') throw fail(`the model (version ${model.version}) scores feature rows, not sample streams`);
  if (Math.abs(stream.rate - spec.rate) > 1e-6 * spec.rate)
    throw fail(`rate is ${stream.rate} Hz, the model expects ${spec.rate} Hz`);
  const order = spec.channels.map((name) => stream.channels.indexOf(name));
  if (stream.channels.length !== spec.channels.length || order.includes(-1)) {
    throw fail(`channels are [${stream.channels.join(', ')}], the model expects [${spec.channels.join(', ')}]`);
  }
  return order.every((k, j) => k === j) ? undefined : Int32Array.from(order);
}

/**
 * One verification stream: frames → ring buffer → windows → the global batcher → (scores come
 * back in window order) → trust → `verdict` → policy on a change of decision. Windows that
 * cannot be scored are reported to the client in an `error` naming them; they neither add nor
 * remove trust (a server failure is no evidence about the holder).
 */
export class StreamVerifier implements StreamSink, WindowSink, WindowTarget, ConnectionStream {
  batchMark = 0;
  private assembler: WindowAssembler | undefined;
  private model: LiveModel | null;
  /** The scoring model's calibration; the trust it adds to is the connection's. */
  private accumulator: TrustAccumulator | undefined;
  private trustModel: LiveModel | undefined;
  /** Each window's check against the account's fingerprints, until its score comes back. */
  private readonly checks = new Map<number, Promise<boolean>>();
  /** Scores waiting for their window's check: later ones wait behind them, so verdicts keep window order. */
  private waiting: Promise<void> | undefined;
  /** Sample times ran ahead of arrival: the stream is played from a recording. */
  private ahead = false;
  /** This stream's fingerprints, added to the account's index when it ends (bounded by the index). */
  private fingerprints: number[][] = [];
  private nextWindow = 0;
  private closed = false;
  /** Smallest (arrival − last sample time) seen, ms: the stream's own clock offset plus best network delay. */
  private bestDelay = Number.POSITIVE_INFINITY;
  private arrivedAt = 0;

  constructor(
    private readonly owner: ContinuousConnection,
    readonly spec: StreamSpec,
    model: LiveModel,
    private readonly env: VerifierEnv,
  ) {
    this.model = model;
    this.assembler = this.assemblerFor(model, channelMapping(spec, model));
    this.accumulator = new TrustAccumulator(model.calibration, env.trust);
    this.trustModel = model;
  }

  // ── StreamSink (the channel) ───────────────────────────────────────────

  onFrame(frame: SampleFrame, gap: number): void {
    const assembler = this.assembler;
    if (!assembler || this.closed) return;
    const now = performance.now();
    // Lateness against the stream's own best delay, so client clock offsets cancel out.
    const delay = Date.now() - (frame.timestamp + (frame.count * 1000) / this.spec.rate);
    // Samples from the future are samples from a file, replayed faster than they were recorded.
    if (this.env.replay.enabled && -delay > this.env.clockSkewMs) this.ahead = true;
    if (delay < this.bestDelay) this.bestDelay = delay;
    else if (delay - this.bestDelay > this.env.lateFrameMs) this.env.metrics.framesLate.inc();
    if (gap > 0) {
      assembler.reset();
      this.env.metrics.windowsBroken.inc();
    }
    this.arrivedAt = now;
    assembler.push(frame.values, frame.count, this);
  }

  onClose(_end: StreamEnd): void {
    this.closed = true;
    this.owner.streams.delete(this);
    this.owner.persistTrust();
    this.owner.replay?.remember(this.fingerprints.flat());
    this.fingerprints = [];
    this.env.metrics.streams.dec({ purpose: 'verify' });
  }

  // ── WindowTarget (the ring buffer) ─────────────────────────────────────

  onWindow(ring: Float32Array, start: number, ringSamples: number): void {
    const model = this.model;
    if (!model) return;
    const index = this.owner.replay;
    if (this.env.replay.enabled) {
      if (this.ahead) this.checks.set(this.nextWindow, Promise.resolve(true));
      if (index) {
        const c = model.spec.channels.length;
        const hashes = this.env.replay.fingerprint(ring, ringSamples, c, (i) => (start + i) % ringSamples);
        if (!this.ahead) this.checks.set(this.nextWindow, index.isReplay(hashes));
        // Remembered later: the stream's own overlapping windows share samples by design.
        this.fingerprints.push(hashes);
        if (this.fingerprints.length > RECENT_WINDOWS * 8) {
          this.owner.replay?.remember(this.fingerprints.splice(0, this.fingerprints.length - RECENT_WINDOWS).flat());
        }
      }
    }
    this.env.batcher.add(this, model, ring, start, ringSamples, this.nextWindow++, this.arrivedAt);
  }

  // ── WindowSink (the batcher, in window order) ──────────────────────────

  scored(window: number, score: number, arrivedAt: number, model: LiveModel): void {
    const check = this.checks.get(window);
    this.checks.delete(window);
    if (!check && !this.waiting) return this.verdict(window, score, arrivedAt, model, false);
    const next = (this.waiting ?? Promise.resolve())
      .then(() => check ?? false)
      .then((replayed) => this.verdict(window, score, arrivedAt, model, replayed))
      .catch(() => {
        // As in the batcher: a verdict that throws (its socket went away mid-send) costs no other its turn.
      });
    this.waiting = next;
    void next.then(() => {
      if (this.waiting === next) this.waiting = undefined;
    });
  }

  private verdict(window: number, score: number, arrivedAt: number, model: LiveModel, replayed: boolean): void {
    if (this.closed || !this.owner.conn.isOpen) return;
    const accumulator = this.accumulatorFor(model);
    // One trust per session: whichever stream moved it last, this window adds to it.
    accumulator.reset(this.owner.sessionTrust);
    let update: { trust: number; decision: VerdictDecision } = accumulator.update(score);
    if (replayed) {
      // Evidence of an attack, not of a person: trust drops to the floor whatever the score.
      accumulator.reset(accumulator.config.floor);
      update = { trust: accumulator.trust, decision: 'replay' };
    }
    const latencyMs = Math.round((performance.now() - arrivedAt) * 100) / 100;
    const { metrics } = this.env;
    metrics.verdicts.add(update.decision);
    metrics.verdictSeconds.observe(latencyMs / 1000);
    this.owner.conn.send({
      type: 'verdict',
      stream: this.spec.stream,
      window,
      score: round(score),
      trust: round(update.trust),
      decision: update.decision,
      modelVersion: model.version,
      latencyMs,
    });
    this.env.onVerdict?.(this.owner.userId, {
      sessionId: this.owner.sessionId,
      stream: this.spec.stream,
      window,
      trust: round(update.trust),
      decision: update.decision,
      at: Date.now(),
    });
    const changed = this.owner.trustScored(update.trust, update.decision, model.version);
    this.env.evidence.scored(this.owner.standing!, update.decision);
    if (changed) {
      this.env.policy.onDecision(this.owner, update.decision, {
        stream: this.spec.stream,
        window,
        trust: update.trust,
        modelVersion: model.version,
      });
    }
  }

  failed(window: number, error: VigilError): void {
    this.checks.delete(window);
    if (this.closed || !this.owner.conn.isOpen) return;
    this.owner.conn.send({
      ...errorMessage(error, 'verdict', this.spec.stream),
      details: [{ field: `/windows/${window}`, message: `window ${window} was not scored` }],
    });
  }

  // ── ConnectionStream ───────────────────────────────────────────────────

  useModel(model: LiveModel | null): void {
    if (this.closed) return;
    const refuse = (error: VigilError) => {
      this.model = null;
      this.assembler = undefined;
      this.owner.conn.send(errorMessage(error, 'stream.open', this.spec.stream));
    };
    if (!model) return refuse(new VigilError('BIOMETRIC_MODEL_MISSING'));
    let map: Int32Array | undefined;
    try {
      map = channelMapping(this.spec, model);
    } catch (err) {
      return refuse(err as VigilError);
    }
    const previous = this.model;
    this.model = model;
    const sameWindows =
      previous &&
      this.assembler &&
      previous.spec.windowSamples === model.spec.windowSamples &&
      previous.spec.hopSamples === model.spec.hopSamples &&
      previous.spec.channels.every((name, j) => name === model.spec.channels[j]);
    // Same windowing: keep the samples already buffered. Otherwise start a new window.
    if (!sameWindows) this.assembler = this.assemblerFor(model, map);
  }

  private assemblerFor(model: LiveModel, map: Int32Array | undefined): WindowAssembler {
    return new WindowAssembler(model.spec.channels.length, model.spec.windowSamples, model.spec.hopSamples, map);
  }

  /** The calibration is the scoring model's (trust, the session's, carries over a model switch). */
  private accumulatorFor(model: LiveModel): TrustAccumulator {
    if (this.accumulator && this.trustModel === model) return this.accumulator;
    const next = new TrustAccumulator(model.calibration, this.env.trust);
    this.accumulator = next;
    this.trustModel = model;
    return next;
  }
}
