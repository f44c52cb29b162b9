import { VigilError, type ErrorCode, type ErrorParams } from '../../protocol/errors.ts';
import type { ReadyModel, ServerMessage } from '../../protocol/messages.ts';
import type { Logger } from '../observability/logger.ts';
import type { Principal } from '../server/http/principal.ts';
import type { WebSocket } from '../server/uws.ts';
import type { ChannelConnection, StreamSink, StreamSpec } from './channel-hooks.ts';
import { serializeServerMessage } from './control-messages.ts';
import type { Scheduled } from './deadline-wheel.ts';
import type { MessageRate } from './message-rate.ts';
import type { RealtimeMetrics } from './realtime-metrics.ts';
import { StreamSequence } from './stream-sequence.ts';

/** Settings every connection of a channel shares (one object, one pointer per socket). */
export interface ConnectionEnv {
  /** Check outgoing messages against their schemas (development and test). */
  validate: boolean;
  /** VIGIL_WS_MAX_BACKPRESSURE_BYTES: beyond it the socket is closed with STREAM_BACKPRESSURE. */
  maxBackpressure: number;
  metrics: RealtimeMetrics;
  logger: Logger;
}

/**
 * uWS' user data. uWS copies the own properties of the object given to `upgrade` into one of
 * its own (prototype and getters are lost), so the connection travels as a property.
 */
export interface SocketData {
  conn: StreamConnection;
}

export type Phase = 'upgrading' | 'awaiting-auth' | 'authenticating' | 'ready' | 'closed';

/** What the connection's one wheel deadline means when it comes. */
export type Deadline = 'none' | 'auth-timeout' | 'expiry-warning' | 'expiry';

export interface OpenStream {
  spec: StreamSpec;
  sequence: StreamSequence;
  sink: StreamSink;
  /** An ack was held back while the socket was congested; sent on drain. */
  ackPending: boolean;
}

/**
 * One socket's state, also its uWS user data. Kept small (a few hundred bytes when idle):
 * streams are allocated on first use, timers live in the shared wheel, limits in shared env.
 */
export class StreamConnection implements ChannelConnection, Scheduled {
  wheelSlot = -1;
  deadline: Deadline = 'none';
  phase: Phase = 'upgrading';
  ws: WebSocket<SocketData> | undefined;
  attachment: unknown = undefined;
  /** Set when the upgrade's authentication failed: the socket opens only to be closed with it. */
  rejection: VigilError | undefined;
  /** Holds a slot of the user's connection quota (released on close). */
  admitted = false;
  /** Model for `ready`, kept only until `ready` is sent. */
  readyModel: ReadyModel | null = null;
  streams: Map<number, OpenStream> | undefined;
  /** A send was buffered; acks are coalesced until `drain`. */
  congested = false;
  /** The token expiry (epoch s) an `expiring` was sent for: one warning per token. */
  warnedExpiry = 0;
  private authenticated: Principal | undefined;

  constructor(
    readonly id: string,
    readonly ip: string,
    readonly rate: MessageRate,
    private readonly env: ConnectionEnv,
  ) {}

  get principal(): Principal {
    if (!this.authenticated) throw new Error(`connection ${this.id} is not authenticated`);
    return this.authenticated;
  }

  get maybePrincipal(): Principal | undefined {
    return this.authenticated;
  }

  authenticate(principal: Principal): void {
    this.authenticated = principal;
  }

  get isOpen(): boolean {
    return this.phase !== 'closed' && this.phase !== 'upgrading';
  }

  get bufferedAmount(): number {
    return this.ws && this.isOpen ? this.ws.getBufferedAmount() : 0;
  }

  send(message: ServerMessage): boolean {
    if (!this.ws || !this.isOpen) return false;
    return this.sendText(serializeServerMessage(message, this.env.validate));
  }

  /** A message already serialized (and, where the environment validates, checked). */
  sendText(text: string): boolean {
    const ws = this.ws;
    if (!ws || !this.isOpen) return false;
    const status = ws.send(text, false);
    // 1: written; 0: buffered (backpressure building); 2: dropped over uWS' hard limit.
    if (status === 1) return true;
    const buffered = status === 2 ? Number.POSITIVE_INFINITY : ws.getBufferedAmount();
    if (buffered > this.env.maxBackpressure) {
      this.env.metrics.backpressure.inc({ event: 'closed' });
      this.close('STREAM_BACKPRESSURE', { bytes: status === 2 ? `over ${this.env.maxBackpressure}` : buffered });
      return false;
    }
    if (!this.congested) {
      this.congested = true;
      this.env.metrics.backpressure.inc({ event: 'congested' });
    }
    return true;
  }

  /**
   * Sends `bye` and closes with the entry's close code; the reason is the code name. uWS runs
   * the close handler synchronously, so the connection is cleaned up when this returns.
   */
  close(code: ErrorCode, params: ErrorParams = {}): void {
    const ws = this.ws;
    if (!ws || !this.isOpen) return;
    const error = new VigilError(code, params);
    // The bye is best effort: it may be dropped by a socket that is closing for backpressure.
    ws.send(serializeServerMessage({ type: 'bye', code, close: error.close, message: error.message }, this.env.validate), false);
    ws.end(error.close, code);
  }

  /** Closes without a message (the client said bye, or the server shuts down). */
  end(closeCode: number, reason: string): void {
    if (this.ws && this.isOpen) this.ws.end(closeCode, reason);
  }

  openStream(spec: StreamSpec, sink: StreamSink): OpenStream {
    const stream: OpenStream = { spec, sequence: new StreamSequence(), sink, ackPending: false };
    (this.streams ??= new Map()).set(spec.stream, stream);
    this.endedByServer?.delete(spec.stream);
    return stream;
  }

  /** Streams the server ended whose late frames are dropped, not fatal (a few ids at most). */
  endedByServer: Set<number> | undefined;

  endStream(stream: number): void {
    if (!this.streams?.delete(stream)) return;
    const ended = (this.endedByServer ??= new Set());
    if (ended.size >= 64) ended.delete(ended.values().next().value!);
    ended.add(stream);
  }

  get streamCount(): number {
    return this.streams?.size ?? 0;
  }

  /** Sends the stream's cumulative ack, or holds it back while the socket is congested. */
  ack(stream: OpenStream): void {
    if (this.congested) {
      stream.ackPending = true;
      return;
    }
    stream.ackPending = false;
    const { sequence } = stream;
    this.send({
      type: 'ack',
      stream: stream.spec.stream,
      seq: sequence.lastSeq,
      frames: sequence.frames,
      gaps: sequence.gaps,
      duplicates: sequence.duplicates,
    });
  }

  /** uWS says the queue drained: leave congestion once it is empty, then send held-back acks. */
  drained(): boolean {
    if (!this.congested || !this.ws || !this.isOpen || this.ws.getBufferedAmount() > 0) return false;
    this.congested = false;
    this.env.metrics.backpressure.inc({ event: 'drained' });
    if (this.streams) for (const stream of this.streams.values()) if (stream.ackPending) this.ack(stream);
    return true;
  }
}
