import type { VerdictDecision } from '../../../protocol/biometrics.ts';
import type { ChannelConnection } from '../../realtime/channel-hooks.ts';
import type { LiveModel, ModelHolder } from './live-models.ts';
import type { ReplayIndex } from '../assurance/replay-index.ts';
import type { OwedStepUp } from '../assurance/session-trust.ts';
import type { SessionStanding } from './session-standing.ts';
import type { PendingStepUp } from './trust-policy.ts';

/** What a stream needs of its connection. */
export interface ConnectionStream {
  useModel(model: LiveModel | null): void;
}

/**
 * Continuous verification's state of one socket (its `attachment`): the user's live model, the
 * open streams, a pending step-up, and where its session stands. Small: everything heavy is per
 * stream or shared per user or session.
 *
 * Trust belongs to the session: every window of every stream adds to where the session stands
 * (shared by its sockets on this process; through Redis, by later sockets and other processes),
 * never to a fresh trust; only a passed step-up resets it. Otherwise closing and reopening a stream after every window would
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
  /** When the session must next show evidence, as the index held it at authentication (EvidencePolicy). */
  storedEvidenceDue: number | undefined;
  /** Where the session stands on this process, shared with its other sockets here (from `ready` on). */
  standing: SessionStanding | undefined;
  /** Made on first use: most sockets never follow an enrolment. */
  private goneController: AbortController | undefined;
  private disconnected = false;

  constructor(
    readonly conn: ChannelConnection,
    model: LiveModel | null,
    /** The trust Redis held for the session when the socket authenticated. */
    readonly storedTrust: number | undefined,
    private readonly initialTrust: number,
  ) {
    this.userId = conn.principal.userId;
    this.sessionId = conn.principal.sessionId;
    this.model = model;
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

  /** What the next window of any stream adds to. */
  get sessionTrust(): number {
    return this.standing?.trust ?? this.storedTrust ?? this.initialTrust;
  }

  /** A stream of this session was scored: the session now stands here. True when the decision changed. */
  trustScored(trust: number, decision: VerdictDecision, modelVersion: number): boolean {
    if (!this.standing) throw new Error('a stream was scored before its socket was ready');
    return this.standing.scored(trust, decision, modelVersion);
  }

  /** Writes the session's trust for its later sockets and other processes (a stream ended). */
  persistTrust(): void {
    this.standing?.persist();
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
    return Math.min(this.initialTrust, this.sessionTrust);
  }

  /** After a passed step-up: the session starts over (the caller stores it). */
  restartTrust(): number {
    return this.standing?.restart() ?? this.initialTrust;
  }
}
