import type { ErrorCode, ErrorParams } from '../../protocol/errors.ts';
import type { SampleFrame } from '../../protocol/frames.ts';
import type { ClientMessageOf, ReadyModel, ServerMessage } from '../../protocol/messages.ts';
import type { Principal } from '../server/http/principal.ts';

/*
 * The seams through which continuous verification and socket enrolment plug into
 * the channel. The channel owns transport, authentication, limits and frame validation; hooks
 * own what samples mean. Hooks run on the event loop: keep them quick and hand heavy work
 * (features, scoring) to the batcher / worker pool.
 */

/** A stream as the client declared it (`stream.open` or `enroll.begin`). */
export interface StreamSpec {
  stream: number;
  purpose: 'verify' | 'enroll';
  rate: number;
  channels: readonly string[];
  modality: string | undefined;
  /** `enroll.begin`'s re-authentication, for replacing an existing model. */
  reauth?: { password?: string | undefined; code?: string | undefined } | undefined;
}

/** Control messages the channel leaves to the hooks (they belong to continuous verification). */
export type HookControlMessage = ClientMessageOf<'stepup'>;

/** Why a stream's sink is closed. */
export type StreamEnd = 'closed' | 'committed' | 'cancelled' | 'disconnected';

/** Where one stream's accepted frames go. */
export interface StreamSink {
  /**
   * Every accepted frame of the stream, in sequence order (duplicates already dropped; `gap`
   * frames went missing just before this one). `frame.values` may view the received message,
   * which is reused when this returns: copy what you keep.
   */
  onFrame(frame: SampleFrame, gap: number): void;
  /** The stream ended; `committed` follows `enroll.commit`. No frame arrives after this. */
  onClose(end: StreamEnd): void;
}

/** A live socket as hooks see it. */
export interface ChannelConnection {
  readonly id: string;
  /** Set from authentication on; hooks are only called for authenticated connections. */
  readonly principal: Principal;
  readonly ip: string;
  /** Free slot for a hook's per-connection state (the user's model, trust score…). */
  attachment: unknown;
  readonly isOpen: boolean;
  /** Bytes queued for this client; see `onWritable`. */
  readonly bufferedAmount: number;
  /**
   * Sends a control message (e.g. `verdict`, `enroll.progress`). Returns false if the socket is
   * gone or was closed for exceeding VIGIL_WS_MAX_BACKPRESSURE_BYTES by this very message.
   */
  send(message: ServerMessage): boolean;
  /** Sends `bye` and closes with the catalogue entry's close code (e.g. STREAM_POLICY_FAILED). */
  close(code: ErrorCode, params?: ErrorParams): void;
  /**
   * Ends one stream from the server's side (its sink gets no `onClose`): the slot is free again,
   * and frames the client had already sent for it are dropped instead of closing the socket.
   */
  endStream(stream: number): void;
}

export interface ChannelHooks {
  /**
   * Runs once the token is verified, before `ready` is sent (during the upgrade, or after the
   * `auth` message): load what the connection needs and return the model `ready` describes.
   * The socket may not be open yet, so do not send from here. Throw a VigilError to refuse.
   */
  onAuthenticated?(conn: ChannelConnection): Promise<ReadyModel | null>;
  /** `ready` has just been sent: the first moment hooks may send on their own (e.g. a pending step-up). */
  onReady?(conn: ChannelConnection): void;
  /**
   * A control message of a ready socket that the channel does not handle itself (`stepup`).
   * Without this hook the client gets an `error` (STREAM_REFUSED) naming the message.
   */
  onControl?(conn: ChannelConnection, message: HookControlMessage): void;
  /**
   * A client opened a stream. Return its sink, or throw a VigilError (STREAM_REFUSED …) to
   * refuse it; the client then gets an `error` message and the socket stays open.
   */
  openStream?(conn: ChannelConnection, spec: StreamSpec): StreamSink;
  /** The socket's queue drained after `send` reported backpressure (bufferedAmount > 0). */
  onWritable?(conn: ChannelConnection): void;
  /** The socket closed; every open stream's sink has already had `onClose('disconnected')`. */
  onDisconnect?(conn: ChannelConnection, closeCode: number): void;
}
