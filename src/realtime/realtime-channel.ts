import { VigilError } from '../../protocol/errors.ts';
import { FRAME_MAX_CHANNELS, decodeFrame, type SampleFrame } from '../../protocol/frames.ts';
import type { ClientMessage, ClientMessageOf, StreamLimits } from '../../protocol/messages.ts';
import type { Logger } from '../observability/logger.ts';
import { toVigilError } from '../storage/dependency-errors.ts';
import type { ChannelConnection, ChannelHooks, StreamEnd, StreamSink, StreamSpec } from './channel-hooks.ts';
import type { ConnectionQuota } from './connection-quota.ts';
import { errorMessage } from '../../protocol/messages.ts';
import { parseClientMessage, readyJson, samplesToFrame } from './control-messages.ts';
import { DeadlineWheel } from './deadline-wheel.ts';
import { MessageRate } from './message-rate.ts';
import { FRAME_OUTCOMES, type RealtimeMetrics } from './realtime-metrics.ts';
import type { SessionEvents, SessionRevocation, TokenResolver } from './stream-auth.ts';
import { StreamConnection, type ConnectionEnv, type OpenStream, type Phase } from './stream-connection.ts';
import { SequenceOutcome } from './stream-sequence.ts';

export interface ChannelLimits {
  maxMessageBytes: number;
  maxMessagesPerSecond: number;
  maxStreams: number;
  idleTimeoutSeconds: number;
  maxBackpressure: number;
  authTimeoutMs: number;
  expiryWarningSeconds: number;
}

export interface RealtimeChannelOptions {
  limits: ChannelLimits;
  tokens: TokenResolver;
  sessions: SessionEvents;
  quota: ConnectionQuota;
  metrics: RealtimeMetrics;
  logger: Logger;
  /** Check outgoing messages against their schemas (development and test). */
  validateMessages: boolean;
}

/** Without hooks, verification streams are accepted and their frames validated and acked only. */
const DISCARD: StreamSink = { onFrame() {}, onClose() {} };

/** A revoked session's id is remembered this long, for sockets whose upgrade was in flight. */
const REVOKED_MEMORY_MS = 60_000;

/**
 * The realtime channel of one gateway process: authenticates sockets, enforces limits,
 * validates frames and routes them to the hooks, keeps tokens fresh in-band and closes sockets
 * the moment their session is revoked anywhere. Transport glue lives in stream-endpoint.ts.
 */
export class RealtimeChannel {
  readonly limits: StreamLimits;
  private hooks: ChannelHooks = {};
  private readonly bySession = new Map<string, Set<StreamConnection>>();
  private readonly byUser = new Map<string, Set<StreamConnection>>();
  private readonly revokedRecently = new Map<string, number>();
  private readonly wheel: DeadlineWheel<StreamConnection>;
  private readonly env: ConnectionEnv;
  private readonly unsubscribe: Array<() => void> = [];
  /** A resync that could not check every session yet, due again. */
  private resyncRetry: NodeJS.Timeout | undefined;
  private sequence = 0;
  private readonly counts = { 'awaiting-auth': 0, ready: 0 };
  /** The phase gauge's children, looked up once (a label lookup hashes the labels every time). */
  private readonly phaseGauge: Record<'awaiting-auth' | 'ready', { inc(): void; dec(): void }>;
  /** `limits` of every `ready`, serialized once. */
  private readonly limitsJson: string;

  constructor(private readonly options: RealtimeChannelOptions) {
    const { limits } = options;
    this.limits = {
      maxMessageBytes: limits.maxMessageBytes,
      maxMessagesPerSecond: limits.maxMessagesPerSecond,
      maxStreams: limits.maxStreams,
      maxChannels: FRAME_MAX_CHANNELS,
      idleTimeoutSeconds: limits.idleTimeoutSeconds,
      expiryWarningSeconds: limits.expiryWarningSeconds,
    };
    this.limitsJson = JSON.stringify(this.limits);
    this.phaseGauge = {
      'awaiting-auth': options.metrics.connections.labels({ phase: 'awaiting-auth' }),
      ready: options.metrics.connections.labels({ phase: 'ready' }),
    };
    this.env = {
      validate: options.validateMessages,
      maxBackpressure: limits.maxBackpressure,
      metrics: options.metrics,
      logger: options.logger,
    };
    this.wheel = new DeadlineWheel(
      (conn, now) => this.onDeadline(conn, now),
      (err) => options.logger.error({ err }, 'socket deadline handler failed'),
    );
  }

  // ── public API for other concerns ────────────────────────────────────────

  /** Plugs in continuous verification / enrolment. One set of hooks per channel. */
  attach(hooks: ChannelHooks): void {
    if (Object.keys(this.hooks).length > 0) throw new Error('realtime channel hooks are already attached');
    this.hooks = hooks;
  }

  /** Live, authenticated sockets of a session on this process. */
  connectionsOfSession(sessionId: string): ChannelConnection[] {
    return [...(this.bySession.get(sessionId) ?? [])].filter((c) => c.phase === 'ready');
  }

  /** Live, authenticated sockets of a user on this process. */
  connectionsOfUser(userId: string): ChannelConnection[] {
    return [...(this.byUser.get(userId) ?? [])].filter((c) => c.phase === 'ready');
  }

  /** Open sockets on this process (authenticated or not). */
  get size(): number {
    return this.counts['awaiting-auth'] + this.counts.ready;
  }

  // ── lifecycle ────────────────────────────────────────────────────────────

  async start(): Promise<void> {
    await this.options.quota.start();
    const { sessions } = this.options;
    this.unsubscribe.push(
      sessions.onRevoked((event) => this.revoked(event)),
      sessions.onResync(() => void this.resync()),
    );
    this.wheel.start();
  }

  async stop(): Promise<void> {
    clearTimeout(this.resyncRetry);
    this.wheel.stop();
    for (const unsubscribe of this.unsubscribe.splice(0)) unsubscribe();
    await this.options.quota.retire();
  }

  // ── called by the endpoint ───────────────────────────────────────────────

  createConnection(ip: string): StreamConnection {
    const id = `${this.options.quota.instanceId}-${(++this.sequence).toString(36)}`;
    return new StreamConnection(id, ip, new MessageRate(this.limits.maxMessagesPerSecond, performance.now()), this.env);
  }

  /**
   * Verifies the token, takes a slot of the user's connection quota and lets the hooks prepare
   * `ready`. Throws a VigilError; a failure after admission gives the slot back.
   */
  async authenticate(conn: StreamConnection, token: string): Promise<void> {
    const started = performance.now();
    const principal = await this.options.tokens.resolve(token);
    const quota = await this.options.quota.acquire(principal.userId);
    if (!quota.admitted) throw new VigilError('STREAM_TOO_MANY_CONNECTIONS', { limit: this.options.quota.limit });
    conn.admitted = true;
    conn.authenticate(principal);
    // Registered before the socket exists, so a revocation published meanwhile still finds it.
    this.register(conn);
    if (this.revokedRecently.has(principal.sessionId)) throw new VigilError('TOKEN_REVOKED');
    try {
      conn.readyModel = (await this.hooks.onAuthenticated?.(conn)) ?? null;
    } catch (err) {
      this.abandon(conn);
      throw err;
    }
    this.options.metrics.authSeconds.observe((performance.now() - started) / 1000);
  }

  /** The upgrade was aborted or refused after authenticate(): give back what it took. */
  abandon(conn: StreamConnection): void {
    this.unregister(conn);
    if (conn.admitted) {
      conn.admitted = false;
      this.options.quota.release(conn.principal.userId);
    }
  }

  opened(conn: StreamConnection): void {
    if (conn.rejection) {
      this.setPhase(conn, 'awaiting-auth'); // open, so close() may send its bye
      conn.close(conn.rejection.code, conn.rejection.params);
      return;
    }
    if (conn.maybePrincipal) {
      this.becomeReady(conn);
    } else {
      this.setPhase(conn, 'awaiting-auth');
      conn.deadline = 'auth-timeout';
      this.wheel.schedule(conn, Date.now() + this.options.limits.authTimeoutMs);
    }
  }

  received(conn: StreamConnection, data: ArrayBuffer, isBinary: boolean): void {
    if (!conn.isOpen) return;
    const { metrics } = this.options;
    metrics.messages.add(isBinary ? 'frame' : 'control');
    if (!conn.rate.take(performance.now())) {
      conn.close('STREAM_RATE_EXCEEDED', { limit: this.limits.maxMessagesPerSecond });
      return;
    }
    if (data.byteLength > this.limits.maxMessageBytes) {
      conn.close('STREAM_MESSAGE_TOO_LARGE', { size: data.byteLength, limit: this.limits.maxMessageBytes });
      return;
    }
    if (isBinary) {
      if (conn.phase !== 'ready') return conn.close('STREAM_MESSAGE_MALFORMED', { reason: 'authenticate before sending frames' });
      const decoded = decodeFrame(data);
      if (!decoded.ok) return conn.close('STREAM_FRAME_MALFORMED', { reason: decoded.reason });
      this.frame(conn, decoded.frame);
      return;
    }
    const parsed = parseClientMessage(Buffer.from(data).toString('utf8'));
    if (!parsed.ok) return conn.close('STREAM_MESSAGE_MALFORMED', { reason: parsed.reason });
    this.control(conn, parsed.message);
  }

  drained(conn: StreamConnection): void {
    if (conn.drained()) this.hooks.onWritable?.(conn);
  }

  closed(conn: StreamConnection, code: number): void {
    if (conn.phase === 'closed') return;
    const wasReady = conn.phase === 'ready';
    this.setPhase(conn, 'closed');
    conn.ws = undefined;
    this.options.metrics.closes.inc({ code: String(code) });
    this.wheel.cancel(conn);
    if (conn.streams) {
      for (const stream of conn.streams.values()) this.safely(() => stream.sink.onClose('disconnected'));
      conn.streams.clear();
    }
    if (wasReady) this.safely(() => this.hooks.onDisconnect?.(conn, code));
    if (conn.maybePrincipal) this.abandon(conn);
  }

  // ── internals ────────────────────────────────────────────────────────────

  /** Moves a connection between phases, keeping the per-phase counts and gauge in step. */
  private setPhase(conn: StreamConnection, next: Phase): void {
    const gaugeLabel = (phase: Phase) =>
      phase === 'ready' ? 'ready' : phase === 'awaiting-auth' || phase === 'authenticating' ? 'awaiting-auth' : undefined;
    const before = gaugeLabel(conn.phase);
    const after = gaugeLabel(next);
    conn.phase = next;
    if (before === after) return;
    if (before) {
      this.counts[before]--;
      this.phaseGauge[before].dec();
    }
    if (after) {
      this.counts[after]++;
      this.phaseGauge[after].inc();
    }
  }

  private becomeReady(conn: StreamConnection): void {
    this.setPhase(conn, 'ready');
    const { principal } = conn;
    const model = conn.readyModel;
    conn.readyModel = null;
    const ready = {
      type: 'ready',
      protocol: 1,
      connectionId: conn.id,
      sessionId: principal.sessionId,
      userId: principal.userId,
      serverTime: Date.now(),
      expiresAt: principal.expiresAt,
      limits: this.limits,
      model,
    } as const;
    // Production skips the schema check; then only the per-socket fields are serialized.
    if (this.env.validate) conn.send(ready);
    else conn.sendText(readyJson(ready, this.limitsJson));
    this.scheduleExpiry(conn, Date.now());
    if (this.hooks.onReady) this.safely(() => this.hooks.onReady!(conn), conn);
  }

  private scheduleExpiry(conn: StreamConnection, now: number): void {
    const { expiresAt: expiresAtSeconds } = conn.principal;
    const expiresAt = expiresAtSeconds * 1000;
    const warnAt = expiresAt - this.limits.expiryWarningSeconds * 1000;
    // A token already inside the warning window is warned about at once, but once per token.
    if (this.limits.expiryWarningSeconds > 0 && conn.warnedExpiry !== expiresAtSeconds && now < expiresAt) {
      conn.deadline = 'expiry-warning';
      this.wheel.schedule(conn, Math.max(warnAt, now));
    } else {
      conn.deadline = 'expiry';
      this.wheel.schedule(conn, expiresAt);
    }
  }

  private onDeadline(conn: StreamConnection, now: number): void {
    if (!conn.isOpen) return;
    switch (conn.deadline) {
      case 'auth-timeout':
        if (conn.phase !== 'ready') conn.close('STREAM_AUTH_TIMEOUT', { timeoutMs: this.options.limits.authTimeoutMs });
        return;
      case 'expiry-warning': {
        const { expiresAt } = conn.principal;
        conn.warnedExpiry = expiresAt;
        conn.send({ type: 'expiring', expiresAt, secondsLeft: Math.max(0, Math.floor(expiresAt - now / 1000)) });
        conn.deadline = 'expiry';
        this.wheel.schedule(conn, expiresAt * 1000);
        return;
      }
      case 'expiry':
        if (conn.principal.expiresAt * 1000 <= now) conn.close('TOKEN_EXPIRED');
        else this.scheduleExpiry(conn, now);
        return;
      case 'none':
        return;
    }
  }

  private control(conn: StreamConnection, message: ClientMessage): void {
    if (message.type === 'auth') {
      if (conn.phase !== 'awaiting-auth') return conn.close('STREAM_MESSAGE_MALFORMED', { reason: 'already authenticated' });
      this.setPhase(conn, 'authenticating');
      void this.authenticateInBand(conn, message.token); // never rejects: a failure closes the socket
      return;
    }
    if (message.type === 'bye') return conn.end(1000, 'bye');
    if (conn.phase !== 'ready') return conn.close('STREAM_MESSAGE_MALFORMED', { reason: `send auth before ${message.type}` });
    switch (message.type) {
      case 'refresh':
        void this.refresh(conn, message.token); // never rejects: a failure is answered on the socket
        return;
      case 'stream.open':
        return this.openStream(conn, {
          stream: message.stream,
          purpose: 'verify',
          rate: message.rate,
          channels: message.channels,
          modality: message.modality,
        });
      case 'enroll.begin':
        return this.openStream(conn, {
          stream: message.stream,
          purpose: 'enroll',
          rate: message.rate,
          channels: message.channels,
          modality: message.modality,
          reauth: message.reauth,
        });
      case 'stream.close':
      case 'enroll.commit':
      case 'enroll.cancel':
        return this.endStream(conn, message);
      case 'samples': {
        const decoded = samplesToFrame(message);
        if (!decoded.ok) return conn.close('STREAM_FRAME_MALFORMED', { reason: decoded.reason });
        return this.frame(conn, decoded.frame);
      }
      case 'stepup': {
        if (this.hooks.onControl) {
          this.safely(() => this.hooks.onControl!(conn, message), conn);
          return;
        }
        const error = new VigilError('STREAM_REFUSED', { reason: `${message.type} is not available on this gateway` });
        conn.send(errorMessage(error, message.type));
        return;
      }
    }
  }

  private async authenticateInBand(conn: StreamConnection, token: string): Promise<void> {
    try {
      await this.authenticate(conn, token);
    } catch (err) {
      const error = toVigilError(err);
      if (error.status >= 500) this.options.logger.error({ err: error.cause ?? error }, 'socket authentication failed');
      conn.close(error.code, error.params);
      return;
    }
    // The client may have gone, or timed out, while we verified.
    if (conn.phase !== 'authenticating') return this.abandon(conn);
    this.options.metrics.upgrades.inc({ outcome: 'authenticated' });
    this.becomeReady(conn);
  }

  private async refresh(conn: StreamConnection, token: string): Promise<void> {
    let next;
    try {
      next = await this.options.tokens.resolve(token);
    } catch (err) {
      const error = toVigilError(err);
      conn.send(errorMessage(error, 'refresh'));
      return;
    }
    if (conn.phase !== 'ready') return;
    const current = conn.principal;
    if (next.sessionId !== current.sessionId || next.userId !== current.userId) {
      const error = new VigilError('STREAM_REFUSED', { reason: 'the refreshed token belongs to another session' });
      conn.send(errorMessage(error, 'refresh'));
      return;
    }
    // Two refreshes may overlap; keep whichever token lives longer.
    if (next.expiresAt > current.expiresAt) conn.authenticate(next);
    conn.send({ type: 'refreshed', expiresAt: conn.principal.expiresAt });
    this.scheduleExpiry(conn, Date.now());
  }

  private openStream(conn: StreamConnection, spec: StreamSpec): void {
    const answer = (error: VigilError) => {
      conn.send(errorMessage(error, spec.purpose === 'verify' ? 'stream.open' : 'enroll.begin', spec.stream));
    };
    const refuse = (reason: string) => answer(new VigilError('STREAM_REFUSED', { reason }));
    if (conn.streams?.has(spec.stream)) return refuse(`stream ${spec.stream} is already open`);
    if (conn.streamCount >= this.limits.maxStreams) return refuse(`at most ${this.limits.maxStreams} streams per connection`);
    let sink: StreamSink;
    if (this.hooks.openStream) {
      try {
        sink = this.hooks.openStream(conn, spec);
      } catch (err) {
        const error = toVigilError(err);
        if (error.status >= 500) this.options.logger.error({ err: error.cause ?? error }, 'stream hook failed');
        return answer(error);
      }
    } else if (spec.purpose === 'verify') {
      sink = DISCARD;
    } else {
      return refuse('enrolment over the socket is not available on this gateway');
    }
    conn.openStream(spec, sink);
  }

  private endStream(conn: StreamConnection, message: ClientMessageOf<'stream.close' | 'enroll.commit' | 'enroll.cancel'>): void {
    const stream = conn.streams?.get(message.stream);
    const refuse = (reason: string) => {
      const error = new VigilError('STREAM_REFUSED', { reason });
      conn.send(errorMessage(error, message.type, message.stream));
    };
    if (!stream) return refuse(`stream ${message.stream} is not open`);
    if (message.type !== 'stream.close' && stream.spec.purpose !== 'enroll')
      return refuse(`stream ${message.stream} is not an enrolment`);
    conn.streams!.delete(message.stream);
    const end: StreamEnd =
      message.type === 'enroll.commit' ? 'committed' : message.type === 'enroll.cancel' ? 'cancelled' : 'closed';
    this.safely(() => stream.sink.onClose(end), conn);
  }

  private frame(conn: StreamConnection, frame: SampleFrame): void {
    const stream: OpenStream | undefined = conn.streams?.get(frame.stream);
    // In flight when the server ended the stream (a failed enroll.begin): not the client's fault.
    if (!stream && conn.endedByServer?.has(frame.stream)) return;
    if (!stream) return conn.close('STREAM_FRAME_MALFORMED', { reason: `stream ${frame.stream} is not open` });
    const expected = stream.spec.channels.length;
    if (frame.channels !== expected) {
      return conn.close('STREAM_FRAME_MALFORMED', {
        reason: `stream ${frame.stream} has ${expected} channels; the frame has ${frame.channels}`,
      });
    }
    const gapsBefore = stream.sequence.gaps;
    const outcome = stream.sequence.admit(frame.seq);
    const { metrics } = this.options;
    metrics.frames.add(FRAME_OUTCOMES[outcome]);
    if (outcome !== SequenceOutcome.Duplicate) {
      metrics.samples.add(frame.count);
      const gap = stream.sequence.gaps - gapsBefore;
      if (gap > 0) metrics.missingFrames.inc(gap);
      if (!this.safely(() => stream.sink.onFrame(frame, gap), conn)) return;
    }
    // Gaps and duplicates are always reported, not silently absorbed.
    if (frame.ackRequested || outcome !== SequenceOutcome.InOrder) conn.ack(stream);
  }

  private revoked(event: SessionRevocation): void {
    const now = Date.now();
    let closed = 0;
    for (const sessionId of event.sessionIds) {
      this.revokedRecently.set(sessionId, now + REVOKED_MEMORY_MS);
      for (const conn of [...(this.bySession.get(sessionId) ?? [])]) {
        // A socket still upgrading is closed the moment it opens.
        if (conn.phase === 'upgrading') conn.rejection = new VigilError('TOKEN_REVOKED');
        else conn.close('TOKEN_REVOKED');
        closed++;
      }
    }
    // Map iteration follows insertion order: the oldest entries are at the front.
    for (const [id, until] of this.revokedRecently) {
      if (until > now) break;
      this.revokedRecently.delete(id);
    }
    this.options.metrics.revocations.inc({ result: closed > 0 ? 'closed_here' : 'none_here' });
  }

  /** Revocations may have been missed: re-check every session that has a socket here. */
  private async resync(): Promise<void> {
    clearTimeout(this.resyncRetry);
    const sessions = [...this.bySession.entries()];
    this.options.logger.info({ sessions: sessions.length }, 'revocation channel resynced; re-checking socket sessions');
    let unanswered = 0;
    for (let i = 0; i < sessions.length; i += 100) {
      const batch = sessions.slice(i, i + 100);
      const live = await Promise.all(
        batch.map(([sessionId, conns]) =>
          this.options.sessions.isLive(sessionId, [...conns][0]?.principal.userId).catch(() => undefined),
        ),
      );
      batch.forEach(([sessionId, conns], index) => {
        if (live[index] === undefined) unanswered++;
        else if (!live[index]) this.revoked({ userId: [...conns][0]?.principal.userId ?? '', sessionIds: [sessionId] });
      });
    }
    // The subscriber can be back before the command connection the checks use: a session Redis
    // could not answer for is not "live", it is unchecked. Check again until every one is.
    if (unanswered > 0) {
      this.options.logger.warn({ sessions: unanswered }, 'could not re-check every socket session; retrying in 1 s');
      this.resyncRetry = setTimeout(() => void this.resync(), 1_000);
      this.resyncRetry.unref();
    }
  }

  private register(conn: StreamConnection): void {
    const { sessionId, userId } = conn.principal;
    let bySession = this.bySession.get(sessionId);
    if (!bySession) this.bySession.set(sessionId, (bySession = new Set()));
    bySession.add(conn);
    let byUser = this.byUser.get(userId);
    if (!byUser) this.byUser.set(userId, (byUser = new Set()));
    byUser.add(conn);
  }

  private unregister(conn: StreamConnection): void {
    const principal = conn.maybePrincipal;
    if (!principal) return;
    const bySession = this.bySession.get(principal.sessionId);
    if (bySession?.delete(conn) && bySession.size === 0) this.bySession.delete(principal.sessionId);
    const byUser = this.byUser.get(principal.userId);
    if (byUser?.delete(conn) && byUser.size === 0) this.byUser.delete(principal.userId);
  }

  /** Runs hook code; a throwing hook closes its socket with INTERNAL instead of the process. */
  private safely(run: () => void, conn?: StreamConnection): boolean {
    try {
      run();
      return true;
    } catch (err) {
      this.options.logger.error({ err, connection: conn?.id }, 'realtime hook threw');
      conn?.close('INTERNAL');
      return false;
    }
  }
}
