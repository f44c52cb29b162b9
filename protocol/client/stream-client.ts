import { isReconnectWorthy } from '../errors.ts';
import { encodeFrame, type SampleType } from '../frames.ts';
import type { ClientMessage, ServerMessage, ServerMessageOf, ServerMessageType } from '../messages.ts';
import { BEARER_SUBPROTOCOL_PREFIX, STREAM_PATH, STREAM_SUBPROTOCOL } from '../stream-handshake.ts';
import { backoffDelay, type BackoffOptions } from './backoff.ts';
import { TypedEmitter } from './typed-emitter.ts';

/*
 * Client SDK of the realtime channel. Browser-compatible: it uses only the standard WebSocket
 * API (pass `ws`'s WebSocket in Node 20, which has no global one) and imports no TypeBox.
 *
 *   const client = new StreamClient({ url, getToken, WebSocket });
 *   const ready = await client.connect();
 *   const accel = client.openStream({ rate: 50, channels: ['x', 'y', 'z'] });
 *   accel.send(new Float32Array([...]));
 *   client.on('verdict', (v) => …);
 */

/**
 * An event handler property. Declared through a method so implementations whose event types
 * are richer (the DOM's MessageEvent, `ws`'s) are assignable without casts.
 */
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

/** The part of the standard WebSocket the client uses. */
export interface WebSocketLike {
  readonly readyState: number;
  readonly bufferedAmount: number;
  binaryType: string;
  send(data: string | ArrayBufferLike | ArrayBufferView): void;
  close(code?: number, reason?: string): void;
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ data: unknown }> | null;
  onclose: Handler<{ code: number; reason: string }> | null;
  onerror: Handler<unknown> | null;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export interface StreamClientOptions {
  /** Gateway base URL (http(s):// or ws(s)://) or the full /v1/stream URL. */
  url: string;
  /**
   * A currently valid access token. Called before each connection and before the token in use
   * expires (the in-band refresh): return a fresh one by then, e.g. from `refreshingTokenSource`.
   */
  getToken(): string | Promise<string>;
  /** WebSocket implementation; default `globalThis.WebSocket`. */
  WebSocket?: WebSocketConstructor;
  /** How the token travels: a `bearer.` subprotocol (default, works in browsers) or an `auth` message. */
  auth?: 'protocol' | 'message';
  /** Reconnect with backoff after reconnect-worthy closes; false never reconnects. */
  reconnect?: BackoffOptions | false;
  /** Refresh this long before the access token expires (at most half its remaining life). Default 30 s. */
  refreshLeadSeconds?: number;
}

export interface StreamOptions {
  /** Stream id; by default the next free one from 1. */
  stream?: number;
  rate: number;
  channels: string[];
  modality?: string;
}

/** What replacing an existing model proves the owner with: exactly one of the two. */
export type EnrolReauth = { password: string } | { code: string };

export interface SendOptions {
  /** First sample, ms since the epoch (default: now). */
  timestamp?: number;
  /** Ask the server to `ack` this frame. */
  ack?: boolean;
  sampleType?: SampleType;
  scale?: number;
}

export type ClientState = 'idle' | 'connecting' | 'authenticating' | 'ready' | 'waiting' | 'closed';

export type StreamClientEvents = { [T in ServerMessageType]: ServerMessageOf<T> } & {
  /** The socket opened (not yet authenticated). */
  open: { protocol: string };
  /** The socket closed; `willReconnect` says whether a reconnect is scheduled. */
  close: { code: number; reason: string; willReconnect: boolean };
  reconnecting: { attempt: number; delayMs: number };
  /** An enrolment stream was cut by a disconnect (verification streams are re-opened). */
  'stream.lost': { stream: number };
  /**
   * The server refused to open a stream (`stream.open` / `enroll.begin` answered with `error`,
   * e.g. BIOMETRIC_MODEL_MISSING for an account that has not enrolled): the stream is ended and
   * its sends refused, so no frame for it reaches the server (which would close the socket).
   */
  'stream.refused': { stream: number; code: string; message: string };
};

type ReadyMessage = ServerMessageOf<'ready'>;

const OPEN = 1;

/** One sample stream: numbers its frames and re-declares itself after a reconnect. */
export class SampleStream {
  /** Sequence number of the next frame. */
  nextSeq = 0;
  /** Why the server refused this stream, once it has (the stream is then ended). */
  refusal: { code: string; message: string } | undefined;
  private ended = false;

  constructor(
    private readonly client: StreamClient,
    readonly id: number,
    readonly purpose: 'verify' | 'enroll',
    readonly spec: StreamOptions,
  ) {}

  /**
   * Sends `values` (samples × channels, sample-major) as one binary frame. Returns its sequence
   * number, or undefined when nothing was sent: the client is not ready, or the stream ended or
   * was refused (see `refusal`).
   */
  send(values: ArrayLike<number>, options: SendOptions = {}): number | undefined {
    if (this.ended || this.client.state !== 'ready') return undefined;
    const seq = this.nextSeq;
    const frame = encodeFrame({
      stream: this.id,
      seq,
      timestamp: options.timestamp ?? Date.now(),
      channels: this.spec.channels.length,
      values,
      sampleType: options.sampleType,
      scale: options.scale,
      ackRequested: options.ack,
    });
    if (!this.client.sendBinary(frame)) return undefined;
    this.nextSeq = (seq + 1) >>> 0;
    return seq;
  }

  /** Ends a verification stream (`stream.close`). */
  close(): void {
    this.end({ type: 'stream.close', stream: this.id });
  }

  /** Ends an enrolment and queues training (`enroll.commit`); watch `enroll.progress` / `enroll.ready`. */
  commit(): void {
    this.end({ type: 'enroll.commit', stream: this.id });
  }

  cancel(): void {
    this.end({ type: 'enroll.cancel', stream: this.id });
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** @internal */
  markEnded(): void {
    this.ended = true;
  }

  private end(message: ClientMessage): void {
    if (this.ended) return;
    this.ended = true;
    this.client.send(message);
    this.client.forget(this.id);
  }
}

export class StreamClient extends TypedEmitter<StreamClientEvents> {
  private ws: WebSocketLike | undefined;
  private _state: ClientState = 'idle';
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshing: Promise<void> | undefined;
  /** Access token expiry (server clock, epoch s) and server − local clock offset, ms. */
  private expiresAt = 0;
  private clockOffsetMs = 0;
  private readonly streams = new Map<number, SampleStream>();
  /** Re-authentications for enrolments not yet declared; sent once, then forgotten. */
  private readonly reauths = new Map<number, EnrolReauth>();
  private lastReady: ReadyMessage | undefined;
  private readonly url: string;
  private readonly Socket: WebSocketConstructor;

  constructor(private readonly options: StreamClientOptions) {
    super();
    this.url = streamUrl(options.url);
    const Socket = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!Socket)
      throw new Error('options.WebSocket is required where there is no global WebSocket (Node 20: pass the `ws` package)');
    this.Socket = Socket;
  }

  get state(): ClientState {
    return this._state;
  }

  /** The last `ready` message (connection id, limits, model), once authenticated. */
  get ready(): ReadyMessage | undefined {
    return this.lastReady;
  }

  get bufferedAmount(): number {
    return this.ws?.bufferedAmount ?? 0;
  }

  /**
   * Starts connecting (and reconnecting) until `close()`. Resolves with the first `ready`;
   * rejects if the socket closes for good before that.
   */
  connect(): Promise<ReadyMessage> {
    if (this._state === 'ready' && this.lastReady) return Promise.resolve(this.lastReady);
    const ready = new Promise<ReadyMessage>((resolve, reject) => {
      const offReady = this.on('ready', (message) => {
        offReady();
        offClose();
        resolve(message);
      });
      const offClose = this.on('close', (event) => {
        if (event.willReconnect) return;
        offReady();
        offClose();
        reject(
          Object.assign(new Error(`stream closed with ${event.code} ${event.reason}`), {
            code: event.code,
            reason: event.reason,
          }),
        );
      });
    });
    if (this._state === 'idle' || this._state === 'closed') {
      this.attempt = 0;
      void this.open(); // never rejects: a failed attempt schedules the next one
    }
    return ready;
  }

  /** Says goodbye and closes with 1000; no reconnect. */
  close(): void {
    this.clearTimers();
    const ws = this.ws;
    this._state = 'closed';
    if (ws && ws.readyState === OPEN) {
      ws.send(JSON.stringify({ type: 'bye' } satisfies ClientMessage));
      ws.close(1000, 'bye');
    } else {
      ws?.close();
    }
  }

  /** Declares a verification stream; it is re-declared after every reconnect. */
  openStream(options: StreamOptions): SampleStream {
    return this.addStream('verify', options);
  }

  /**
   * Declares an enrolment stream (`enroll.begin`); a disconnect ends it (`stream.lost`). Replacing
   * an existing model needs `reauth` (the current password or an authenticator code) unless this
   * session streamed as genuine under that model lately.
   */
  enroll(options: StreamOptions & { modality: string; reauth?: EnrolReauth }): SampleStream {
    const { reauth, ...spec } = options;
    return this.addStream('enroll', spec, reauth);
  }

  /** Refreshes the access token in-band now (also done automatically before expiry). */
  refresh(): Promise<void> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /** Sends a control message; false when not connected. */
  send(message: ClientMessage): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== OPEN) return false;
    ws.send(JSON.stringify(message));
    return true;
  }

  /** @internal Sends a binary frame once authenticated. */
  sendBinary(frame: Uint8Array): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== OPEN || this._state !== 'ready') return false;
    ws.send(frame);
    return true;
  }

  /** @internal */
  forget(stream: number): void {
    this.streams.delete(stream);
    this.reauths.delete(stream);
  }

  private addStream(purpose: 'verify' | 'enroll', options: StreamOptions, reauth?: EnrolReauth): SampleStream {
    let id = options.stream;
    if (id === undefined) {
      id = 1;
      while (this.streams.has(id)) id++;
    }
    if (this.streams.has(id)) throw new Error(`stream ${id} is already open`);
    const stream = new SampleStream(this, id, purpose, { ...options, stream: id });
    this.streams.set(id, stream);
    if (reauth) this.reauths.set(id, reauth);
    if (this._state === 'ready') this.declare(stream);
    return stream;
  }

  private declare(stream: SampleStream): void {
    const { spec } = stream;
    const common = { stream: stream.id, rate: spec.rate, channels: spec.channels };
    if (stream.purpose === 'verify')
      this.send({ type: 'stream.open', ...common, ...(spec.modality ? { modality: spec.modality } : {}) });
    else {
      const reauth = this.reauths.get(stream.id);
      this.reauths.delete(stream.id);
      this.send({ type: 'enroll.begin', ...common, modality: spec.modality ?? 'unknown', ...(reauth ? { reauth } : {}) });
    }
  }

  private async open(): Promise<void> {
    this._state = 'connecting';
    let token: string;
    try {
      token = await this.options.getToken();
    } catch {
      // Treated like a failed connection: the token source may recover (network, refresh).
      this.afterClose(1006, 'getToken failed');
      return;
    }
    if (this._state !== 'connecting') return; // closed meanwhile
    const auth = this.options.auth ?? 'protocol';
    const protocols = auth === 'protocol' ? [STREAM_SUBPROTOCOL, BEARER_SUBPROTOCOL_PREFIX + token] : [STREAM_SUBPROTOCOL];
    let ws: WebSocketLike;
    try {
      ws = new this.Socket(this.url, protocols);
    } catch {
      this.afterClose(1006, 'connect failed');
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => {
      if (ws !== this.ws) return;
      this._state = 'authenticating';
      if (auth === 'message') ws.send(JSON.stringify({ type: 'auth', token } satisfies ClientMessage));
      this.emit('open', { protocol: (ws as { protocol?: string }).protocol ?? '' });
    };
    ws.onmessage = (event) => {
      if (ws !== this.ws || typeof event.data !== 'string') return;
      let message: ServerMessage;
      try {
        message = JSON.parse(event.data) as ServerMessage;
      } catch {
        return;
      }
      this.receive(message);
    };
    ws.onerror = () => {
      // A close event always follows; it decides what happens next.
    };
    ws.onclose = (event) => {
      if (ws !== this.ws) return;
      this.ws = undefined;
      this.afterClose(event.code, event.reason);
    };
  }

  private receive(message: ServerMessage): void {
    switch (message.type) {
      case 'ready':
        this._state = 'ready';
        this.attempt = 0;
        this.lastReady = message;
        this.clockOffsetMs = message.serverTime - Date.now();
        this.expiresAt = message.expiresAt;
        this.scheduleRefresh();
        for (const stream of this.streams.values()) this.declare(stream);
        break;
      case 'refreshed':
        this.expiresAt = message.expiresAt;
        this.scheduleRefresh();
        break;
      case 'expiring':
        void this.refresh().catch(() => undefined);
        break;
      case 'error':
        this.refuseStream(message);
        break;
      default:
        break;
    }
    this.emit(message.type, message);
  }

  /** An `error` answering a stream's declaration ends that stream before anything is sent on it. */
  private refuseStream(message: ServerMessageOf<'error'>): void {
    if (message.stream === undefined || (message.ref !== 'stream.open' && message.ref !== 'enroll.begin')) return;
    const stream = this.streams.get(message.stream);
    if (!stream) return;
    stream.refusal = { code: message.code, message: message.message };
    stream.markEnded();
    this.streams.delete(stream.id);
    this.emit('stream.refused', { stream: stream.id, code: message.code, message: message.message });
  }

  private afterClose(code: number, reason: string): void {
    this.clearTimers();
    const stopped = this._state === 'closed';
    for (const stream of [...this.streams.values()]) {
      if (stream.purpose !== 'enroll') continue;
      stream.markEnded();
      this.streams.delete(stream.id);
      this.emit('stream.lost', { stream: stream.id });
    }
    const delayMs =
      !stopped && this.options.reconnect !== false && isReconnectWorthy(code)
        ? backoffDelay(this.attempt, this.options.reconnect || {})
        : undefined;
    this._state = delayMs === undefined ? 'closed' : 'waiting';
    this.emit('close', { code, reason, willReconnect: delayMs !== undefined });
    if (delayMs === undefined) return;
    this.attempt++;
    this.emit('reconnecting', { attempt: this.attempt, delayMs });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this._state === 'waiting') void this.open();
    }, delayMs);
  }

  private scheduleRefresh(): void {
    clearTimeout(this.refreshTimer);
    const lead = this.options.refreshLeadSeconds ?? 30;
    const leftMs = this.expiresAt * 1000 - (Date.now() + this.clockOffsetMs);
    const dueInMs = Math.max(0, leftMs - Math.min(lead * 1000, leftMs / 2));
    this.refreshTimer = setTimeout(() => void this.refresh().catch(() => undefined), dueInMs);
  }

  private async doRefresh(): Promise<void> {
    if (this._state !== 'ready') return;
    const token = await this.options.getToken();
    // The socket may have closed while the token was fetched; the next `ready` uses a fresh one.
    if (this._state !== 'ready' || !this.send({ type: 'refresh', token })) return;
    // Listening starts only once the request is on the wire: an answer arrives in a later task,
    // and a refresh that was never sent leaves no waiter behind to reject unobserved.
    await new Promise<void>((resolve, reject) => {
      const done = () => {
        offOk();
        offErr();
        offClose();
      };
      const offOk = this.on('refreshed', () => {
        done();
        resolve();
      });
      const offErr = this.on('error', (message) => {
        if (message.ref !== 'refresh') return;
        done();
        reject(Object.assign(new Error(message.message), { code: message.code }));
      });
      // A socket that closes meanwhile never answers; the next `ready` starts over.
      const offClose = this.on('close', () => {
        done();
        reject(new Error('closed before the refresh was answered'));
      });
    });
  }

  private clearTimers(): void {
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.refreshTimer);
    this.reconnectTimer = undefined;
    this.refreshTimer = undefined;
  }
}

/** http://host:port → ws://host:port/v1/stream; a URL that already names a path is kept. */
export function streamUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.protocol === 'http:') parsed.protocol = 'ws:';
  if (parsed.protocol === 'https:') parsed.protocol = 'wss:';
  if (parsed.pathname === '/' || parsed.pathname === '') parsed.pathname = STREAM_PATH;
  return parsed.toString();
}
