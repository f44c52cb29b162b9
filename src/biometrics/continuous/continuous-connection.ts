import type { VerdictDecision } from '../../../protocol/biometrics.ts';
import type { ChannelConnection } from '../../realtime/channel-hooks.ts';
import { decide, type TrustConfig } from '../trust.ts';
import type { LiveModel, ModelHolder } from './live-models.ts';
import type { ReplayIndex } from '../assurance/replay-index.ts';
import type { OwedStepUp } from '../assurance/session-trust.ts';
import type { PendingStepUp } from './trust-policy.ts';

/** What a stream needs of its connection. */
export interface ConnectionStream {
  useModel(model: LiveModel | null): void;
}

/** Where the session's trust is kept between sockets (SessionTrustStore). */
export interface TrustMemory {
  setTrust(sessionId: string, trust: number): Promise<void>;
}

/**
 * Continuous verification's state of one socket (its `attachment`): the user's live model, the
 * open streams, a pending step-up, and the trust its session stands at. Small: everything heavy
 * is per stream or shared per user.
 *
 * Trust belongs to the session: a new stream starts where the session's last scored window left
 * it (on this socket, or — through Redis — on an earlier one), never from fresh trust; only a
 * passed step-up resets it. Otherwise closing and reopening a stream after every window would
 * keep an impostor out of `impostor` for ever.
 */
export class ContinuousConnection implements ModelHolder {
  readonly userId: string;
  readonly sessionId: string;
  model: LiveModel | null;
  readonly streams = new Set<ConnectionStream>();
  stepUp: PendingStepUp | undefined;
  /** A step-up an earlier socket of this session left unproven (asked again once ready). */
  owedStepUp: OwedStepUp | undefined;
  ready = false;
  /** The account's fingerprints, when replay detection is on. */
  replay: ReplayIndex | undefined;
  /**
   * Where the session stands: every verification stream of the socket adds its windows to this
   * one value. A stream never keeps a trust of its own, or one opened while trust was high and
   * left idle would hand that trust back later.
   */
  sessionTrust: number;
  /** The decision `sessionTrust` last read; the policy acts when it changes. */
  decision: VerdictDecision;
  /** The value last written to Redis (writes happen on changes of decision and when streams end). */
  private storedTrust: number;
  /** Made on first use: most sockets never follow an enrolment. */
  private goneController: AbortController | undefined;
  private disconnected = false;

  constructor(
    readonly conn: ChannelConnection,
    model: LiveModel | null,
    private readonly config: TrustConfig,
    private readonly memory: TrustMemory,
    sessionTrust: number | undefined,
  ) {
    this.userId = conn.principal.userId;
    this.sessionId = conn.principal.sessionId;
    this.model = model;
    this.sessionTrust = sessionTrust ?? config.initial;
    this.storedTrust = this.sessionTrust;
    // What a fresh session reads: a socket whose session already stands below `uncertain` still
    // triggers the policy with its first verdict.
    this.decision = decide(config.initial, config);
  }

  /** Aborted once the socket is gone: work done only to tell this socket something stops then. */
  get gone(): AbortSignal {
    this.goneController ??= new AbortController();
    if (this.disconnected) this.goneController.abort();
    return this.goneController.signal;
  }

  disconnect(): void {
    this.disconnected = true;
    this.goneController?.abort();
  }

  /** A stream of this session was scored: the session now stands here. True when the decision changed. */
  trustScored(trust: number, decision: VerdictDecision): boolean {
    this.sessionTrust = trust;
    if (decision === this.decision) return false;
    this.decision = decision;
    this.persistTrust();
    return true;
  }

  /** Writes the session's trust for its other and later sockets (a stream ended, a decision changed). */
  persistTrust(): void {
    const trust = this.sessionTrust;
    if (trust === this.storedTrust) return;
    this.storedTrust = trust;
    this.memory.setTrust(this.sessionId, trust).catch(() => {
      // Redis away: this socket still holds the value; the next write retries it.
      this.storedTrust = Number.NaN;
    });
  }

  /** A new version is ready (or none is left): tell the client, switch every stream. */
  useModel(model: LiveModel | null): void {
    if (model?.modelId === this.model?.modelId) return;
    this.model = model;
    if (this.ready) this.conn.send({ type: 'model', model: model?.ready ?? null });
    for (const stream of this.streams) stream.useModel(model);
  }

  /** The trust to name in a re-announced step-up. */
  lowestTrust(): number {
    return Math.min(this.config.initial, this.sessionTrust);
  }

  /** After a passed step-up: the session starts over (the caller stores it). */
  restartTrust(): number {
    const { initial } = this.config;
    this.sessionTrust = initial;
    this.storedTrust = initial;
    this.decision = decide(initial, this.config);
    return initial;
  }
}
