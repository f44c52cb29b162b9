import type { ChannelConnection } from '../../realtime/channel-hooks.ts';
import type { LiveModel, ModelHolder } from './live-models.ts';
import type { PendingStepUp } from './trust-policy.ts';

/** What a stream needs of its connection. */
export interface ConnectionStream {
  useModel(model: LiveModel | null): void;
  /** Current trust of a verification stream (enrolment streams have none). */
  readonly trust: number | undefined;
  /** Back to the configured initial trust (after a passed step-up). */
  restartTrust?(): number;
}

/**
 * Continuous verification's state of one socket (its `attachment`): the user's live model, the
 * open streams, a pending step-up. Small: everything heavy is per stream or shared per user.
 */
export class ContinuousConnection implements ModelHolder {
  readonly userId: string;
  readonly sessionId: string;
  model: LiveModel | null;
  readonly streams = new Set<ConnectionStream>();
  stepUp: PendingStepUp | undefined;
  /** A step-up an earlier socket of this session left unproven (asked again once ready). */
  owedStepUp: { requestedAt: number; reason: 'uncertain' | 'impostor' } | undefined;
  ready = false;

  constructor(
    readonly conn: ChannelConnection,
    model: LiveModel | null,
    private readonly initialTrust: number,
  ) {
    this.userId = conn.principal.userId;
    this.sessionId = conn.principal.sessionId;
    this.model = model;
  }

  /** A new version is ready (or none is left): tell the client, switch every stream. */
  useModel(model: LiveModel | null): void {
    if (model?.modelId === this.model?.modelId) return;
    this.model = model;
    if (this.ready) this.conn.send({ type: 'model', model: model?.ready ?? null });
    for (const stream of this.streams) stream.useModel(model);
  }

  /** The lowest trust among this socket's verification streams (for a re-announced step-up). */
  lowestTrust(): number {
    let lowest = this.initialTrust;
    for (const stream of this.streams) if (stream.trust !== undefined && stream.trust < lowest) lowest = stream.trust;
    return lowest;
  }

  /** After a passed step-up: every verification stream starts over. */
  restartTrust(): number {
    for (const stream of this.streams) stream.restartTrust?.();
    return this.initialTrust;
  }
}
