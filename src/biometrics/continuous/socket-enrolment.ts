import type { FeatureSpec } from '../../../protocol/biometrics.ts';
import { VigilError } from '../../../protocol/errors.ts';
import type { SampleFrame } from '../../../protocol/frames.ts';
import type { EnrollmentAccepted, EnrollmentView } from '../../../protocol/http/biometrics.ts';
import type { Logger } from '../../observability/logger.ts';
import type { StreamEnd, StreamSink, StreamSpec } from '../../realtime/channel-hooks.ts';
import { errorMessage } from '../../../protocol/messages.ts';
import { toVigilError } from '../../storage/dependency-errors.ts';
import type { OwnerChanges } from '../assurance/owner-change.ts';
import { reauthFromMessage } from '../assurance/reauth-input.ts';
import type { BiometricService } from '../biometric-service.ts';
import type { EnrollmentEvent } from '../enrollment/enrollment-events.ts';
import { sampleFeatureSpec } from '../features/feature-spec.ts';
import { windowCount } from '../features/windowing.ts';
import { sampleSet } from '../samples.ts';
import type { ConnectionStream, ContinuousConnection } from './continuous-connection.ts';
import type { ContinuousMetrics } from './continuous-metrics.ts';
import type { EnrolmentFollows } from './enrolment-follows.ts';
import { readyModelOf, type LiveModels } from './live-models.ts';

/** The slice of the biometric service socket enrolment uses. */
export type EnrolmentService = Pick<
  BiometricService,
  'begin' | 'append' | 'commit' | 'status' | 'onEnrollmentEvent' | 'waitForEnrollment' | 'activeModel'
>;

/** Socket enrolments open in this process, admitted before any buffer is allocated. */
export interface EnrolmentAdmission {
  open: number;
  /** VIGIL_CV_MAX_ENROLMENT_STREAMS */
  max: number;
}

export interface EnrolmentEnv {
  admission: EnrolmentAdmission;
  /** Committed enrolments being followed; the module stops them before the store closes. */
  follows: EnrolmentFollows;
  service: EnrolmentService;
  /** Enrolling over the socket changes the owner like any enrolment: fresh proof, no step-up owed; replacing a model, a re-authentication too. */
  owner: Pick<OwnerChanges, 'assertFresh' | 'assertReplace'>;
  models: LiveModels;
  metrics: ContinuousMetrics;
  logger: Logger;
}

/** Samples buffered per enrolment stream before they are appended to the enrolment (≈ 64 KB). */
const FLUSH_FLOATS = 16_384;
/**
 * Most values (samples × channels) one window of a socket enrolment may hold: the buffer is two
 * windows, so a stream holds at most 512 KiB whatever rate and channels the client declares
 * (1 kHz × 8 channels × 5 s windows fit; 10 kHz × 64 channels do not).
 */
export const MAX_ENROLMENT_WINDOW_VALUES = 65_536;
/** Collecting progress reaches 1 here: about a minute of motion at the default 2.5 s / 1.25 s windows. */
export const RECOMMENDED_ENROLMENT_WINDOWS = 48;
/** How long the socket follows a committed enrolment's training before giving up on telling it. */
const FOLLOW_MS = 15 * 60_000;

/** The spec `enroll.begin` implies; a VigilError (VALIDATION_FAILED) when no window fits. */
export function enrolmentSpec(spec: StreamSpec): FeatureSpec {
  let features: FeatureSpec;
  try {
    features = sampleFeatureSpec({ rate: spec.rate, channels: spec.channels, modality: spec.modality });
  } catch (err) {
    const message = (err as Error).message.replace(/^options\./, '');
    throw new VigilError('VALIDATION_FAILED', { summary: message }, { details: [{ field: '/rate', message }] });
  }
  const values = features.windowSamples * spec.channels.length;
  if (values > MAX_ENROLMENT_WINDOW_VALUES) {
    const message = `rate × channels × window is ${values} values (${spec.rate} Hz × ${spec.channels.length} channels × ${features.windowSamples / spec.rate} s); at most ${MAX_ENROLMENT_WINDOW_VALUES} over the socket`;
    throw new VigilError('VALIDATION_FAILED', { summary: message }, { details: [{ field: '/rate', message }] });
  }
  return features;
}

/**
 * One `enroll.begin` stream: frames are buffered (bounded) and appended to an open enrolment of
 * the biometric service as one continuous recording (a sequence gap starts a new one: windows
 * never span missing frames); `enroll.commit` queues training and the socket then follows the
 * job — `enroll.progress` (collecting → queued → training), `enroll.ready` or `enroll.failed`.
 * When the model is ready every live socket of the user switches to it without reconnecting.
 */
export class SocketEnrolment implements StreamSink, ConnectionStream {
  private readonly spec: FeatureSpec;
  private readonly c: number;
  private buffer: Float32Array;
  private buffered = 0;
  /** Appends run one after another; each link waits for the previous. */
  private chain: Promise<void>;
  private enrollmentId: string | undefined;
  /** Samples of the recording being collected (since the last gap) and of earlier recordings. */
  private segmentSamples = 0;
  private earlierWindows = 0;
  private reportedWindows = 0;
  /** The next append starts a new recording (after a gap). */
  private newSegment = false;
  private finished = false;
  /** Appends not yet stored: at most one waits behind the one running, then frames are refused. */
  private pendingAppends = 0;
  /** ENROLLMENT_BACKPRESSURE was reported and no append has completed since. */
  private refusing = false;
  private released = false;

  constructor(
    private readonly owner: ContinuousConnection,
    private readonly stream: StreamSpec,
    private readonly env: EnrolmentEnv,
  ) {
    this.spec = enrolmentSpec(stream);
    const reauth = reauthFromMessage(stream.reauth);
    stream.reauth = undefined; // not kept with the stream
    this.c = stream.channels.length;
    this.buffer = new Float32Array(Math.max(FLUSH_FLOATS, this.spec.windowSamples * this.c * 2));
    const empty = sampleSet(stream.rate, stream.channels, new Float32Array(0));
    const meta = { ip: owner.conn.ip, sessionId: owner.sessionId };
    // Proven at the start (the client learns before recording); the commit re-checks the login's age.
    this.chain = env.owner
      .assertReplace(owner, 'enrolled', reauth, meta)
      .then(() => env.service.begin(owner.userId, empty, { modality: this.spec.modality, source: 'socket' }, meta))
      .then((record) => {
        this.enrollmentId = record._id.toHexString();
      });
    this.chain.catch((err: unknown) => this.fail(err));
  }

  useModel(): void {}

  onFrame(frame: SampleFrame, gap: number): void {
    if (this.finished) return;
    if (gap > 0) this.gap();
    if (this.pendingAppends >= 2 && (this.buffered + frame.count) * this.c > this.buffer.length) {
      // Storage is behind: refuse rather than queue copies without bound. What was dropped is a gap.
      if (!this.refusing) {
        this.refusing = true;
        this.send(
          errorMessage(
            new VigilError('ENROLLMENT_BACKPRESSURE', { stream: this.stream.stream }),
            'enroll.begin',
            this.stream.stream,
          ),
        );
      }
      this.gap();
      return;
    }
    const values = frame.values;
    let from = 0;
    const total = frame.count * this.c;
    while (from < total) {
      const take = Math.min(total - from, this.buffer.length - this.buffered * this.c);
      this.buffer.set(values.subarray(from, from + take), this.buffered * this.c);
      this.buffered += take / this.c;
      from += take;
      if (this.buffered * this.c === this.buffer.length) this.flush();
    }
    this.segmentSamples += frame.count;
    this.progress();
  }

  onClose(end: StreamEnd): void {
    this.release();
    if (this.finished) return;
    if (end !== 'committed') {
      // Cancelled or cut: what was appended stays in the open enrolment, which is never trained.
      this.finished = true;
      return;
    }
    this.flush();
    const meta = { ip: this.owner.conn.ip, sessionId: this.owner.sessionId };
    const committed = this.chain
      .then(() => this.env.owner.assertFresh(this.owner, 'enrolled', meta))
      .then(() => this.env.service.commit(this.owner.userId, this.enrollmentId!, meta));
    committed.then(
      (accepted) => this.follow(accepted),
      (err: unknown) => this.fail(err),
    );
  }

  /** Frames went missing: what follows is a new recording, and the partial window before the gap is lost. */
  private gap(): void {
    this.flush();
    this.buffered = 0; // a new recording still shorter than a window: it cannot be stored
    this.earlierWindows += windowCount(this.segmentSamples, this.spec.windowSamples, this.spec.hopSamples);
    this.segmentSamples = 0;
    this.newSegment = true;
  }

  /** Appends what is buffered (after everything appended before it). */
  private flush(): void {
    const rows = this.buffered;
    if (rows === 0 || this.finished) return;
    // A new recording shorter than a window cannot be stored alone; it is kept until it is longer.
    if (this.newSegment && rows < this.spec.windowSamples) return;
    const data = this.buffer.slice(0, rows * this.c);
    this.buffered = 0;
    const continues = !this.newSegment;
    this.newSegment = false;
    this.pendingAppends++;
    this.chain = this.chain
      .then(async () => {
        if (this.finished) return;
        await this.env.service.append(
          this.owner.userId,
          this.enrollmentId!,
          sampleSet(this.stream.rate, this.stream.channels, data),
          { continues },
        );
      })
      .finally(() => {
        this.pendingAppends--;
        this.refusing = false;
      });
    this.chain.catch((err: unknown) => this.fail(err));
  }

  private progress(): void {
    const windows = this.earlierWindows + windowCount(this.segmentSamples, this.spec.windowSamples, this.spec.hopSamples);
    if (windows === this.reportedWindows) return;
    this.reportedWindows = windows;
    this.send({
      type: 'enroll.progress',
      stream: this.stream.stream,
      stage: 'collecting',
      progress: Math.min(1, windows / RECOMMENDED_ENROLMENT_WINDOWS),
      windows,
    });
  }

  /**
   * Committed: report the queue, training progress and the outcome of this enrolment's job. The
   * follow ends with the outcome, when the socket is gone (nobody left to tell: other sockets of
   * the user switch models through the continuous module) or when the gateway closes.
   */
  private follow(accepted: EnrollmentAccepted): void {
    const id = accepted.enrollmentId;
    const { service, follows } = this.env;
    const signal = AbortSignal.any([this.owner.gone, follows.signal]);
    this.send({ type: 'enroll.progress', stream: this.stream.stream, stage: 'queued', progress: 0, windows: accepted.windows });
    const settling = new Set<Promise<void>>();
    const settle = (view?: EnrollmentView) => {
      const settled = this.settle(id, signal, view).catch((err: unknown) => {
        if (!signal.aborted) this.fail(err);
      });
      settling.add(settled);
      const done = () => void settling.delete(settled);
      settled.then(done, done);
      return settled;
    };
    const off = service.onEnrollmentEvent((event: EnrollmentEvent) => {
      if (event.enrollmentId !== id || this.finished || signal.aborted) return;
      if (event.status === 'training') {
        this.send({ type: 'enroll.progress', stream: this.stream.stream, stage: 'training', progress: event.progress });
      } else if (event.status === 'ready' || event.status === 'failed') {
        void settle();
      }
    });
    // Pub/sub may drop an event; the enrolment record has the final word.
    const followed = service
      .waitForEnrollment(this.owner.userId, id, FOLLOW_MS, signal)
      .then((view) => settle(view))
      .catch((err: unknown) => {
        if (!signal.aborted) this.fail(err);
      })
      .finally(off)
      .then(() => Promise.allSettled(settling))
      .then(() => {});
    follows.track(followed);
  }

  private async settle(id: string, signal: AbortSignal, view?: EnrollmentView): Promise<void> {
    if (this.finished || signal.aborted) return;
    const { service, models } = this.env;
    const state = view ?? (await service.status(this.owner.userId, id));
    if (this.finished || signal.aborted) return;
    if (state.status === 'failed') {
      this.finished = true;
      const code = state.error?.code ?? 'MODEL_TRAINING_FAILED';
      this.send({ type: 'enroll.failed', stream: this.stream.stream, code, message: state.error?.message ?? 'training failed' });
      return;
    }
    if (state.status !== 'ready' || state.modelVersion === undefined) return;
    this.finished = true;
    let active;
    try {
      // Switch every live socket of the user first, so the client can verify right after enroll.ready.
      await models.refresh(this.owner.userId);
      active = await service.activeModel(this.owner.userId);
    } catch (err) {
      if (signal.aborted) return;
      this.finished = false; // not settled after all: fail() answers the client
      return this.fail(err);
    }
    this.send({
      type: 'enroll.ready',
      stream: this.stream.stream,
      modelVersion: state.modelVersion,
      model: readyModelOf(active.version === state.modelVersion ? active : { version: state.modelVersion, spec: active.spec }),
    });
  }

  private fail(err: unknown): void {
    if (this.finished) return;
    this.finished = true;
    // Nothing more will be stored: free the buffer and the stream (late frames are dropped).
    this.buffer = new Float32Array(0);
    this.buffered = 0;
    this.owner.conn.endStream(this.stream.stream);
    this.release();
    const error = toVigilError(err);
    if (error.status >= 500)
      this.env.logger.error({ err: error.cause ?? error, stream: this.stream.stream }, 'socket enrolment failed');
    this.send({ type: 'enroll.failed', stream: this.stream.stream, code: error.code, message: error.message });
  }

  /** The stream's slot: counted once, whether the client ended it or a failure did. */
  private release(): void {
    if (this.released) return;
    this.released = true;
    this.owner.streams.delete(this);
    this.env.admission.open--;
    this.env.metrics.streams.dec({ purpose: 'enroll' });
  }

  private send(message: Parameters<ContinuousConnection['conn']['send']>[0]): void {
    this.owner.conn.send(message);
  }
}
