import WebSocket from 'ws';
import { isReconnectWorthy } from '../../../protocol/errors.ts';
import { StreamClient, type SampleStream } from '../../../protocol/client/index.ts';
import { logIn, type Member } from './accounts.ts';

/** One HTTP answer the driver saw. */
export interface Sample {
  at: number;
  gateway: number;
  op: Op;
  /** 0: no answer (connection refused, reset, or the timeout). */
  status: number;
  code?: string;
  ms: number;
  /** For `code`: where the code was to be mailed. */
  email?: string;
}

export interface SocketClose {
  at: number;
  gateway: number;
  code: number;
  reason: string;
}

type Op = 'me' | 'introspect' | 'refresh' | 'login' | 'code';
const OPS: Op[] = ['me', 'introspect', 'refresh', 'me', 'introspect', 'login', 'code'];

/** Longest a request may take before it counts as a hang. */
export const ANSWER_WITHIN_MS = 5_000;

/**
 * Load while a dependency fails: HTTP (profile reads, introspection, refresh rotation, password
 * logins, code requests) spread over the gateways from a few concurrent loops, and streaming
 * sockets through the client SDK (which reconnects after reconnect-worthy closes, as apps do).
 * Everything seen is recorded with its time, so a test can judge before, during and after.
 */
export class LoadDriver {
  readonly samples: Sample[] = [];
  readonly closes: SocketClose[] = [];
  private running = false;
  private loops: Array<Promise<void>> = [];
  private readonly clients: Array<{ client: StreamClient; gateway: number; stream?: SampleStream; ready: boolean }> = [];
  private ticker: NodeJS.Timeout | undefined;
  private tick = 0;

  constructor(
    private readonly urls: () => string[],
    private readonly members: Member[],
    private readonly options: { concurrency?: number; sockets?: number; pauseMs?: number } = {},
  ) {}

  start(): void {
    this.running = true;
    for (let i = 0; i < (this.options.concurrency ?? 4); i++) this.loops.push(this.loop(i));
    for (let i = 0; i < (this.options.sockets ?? 0); i++) this.openSocket(i);
    const payload = new Float32Array(5 * 3).map((_, i) => Math.sin(i));
    this.ticker = setInterval(() => {
      this.tick++;
      for (const entry of this.clients) if (entry.ready) entry.stream?.send(payload, { ack: this.tick % 5 === 0 });
    }, 100);
  }

  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.ticker);
    await Promise.all(this.loops);
    for (const { client } of this.clients) client.close();
  }

  /** Sockets that are ready right now. */
  get readySockets(): number {
    return this.clients.filter((c) => c.ready).length;
  }

  get socketCount(): number {
    return this.clients.length;
  }

  between(from: number, to = Infinity): Sample[] {
    return this.samples.filter((s) => s.at >= from && s.at < to);
  }

  private openSocket(index: number): void {
    const gateway = index % this.urls().length;
    const member = this.members[index % this.members.length]!;
    const client = new StreamClient({
      url: this.urls()[gateway]!,
      WebSocket,
      // The member's current access token; the HTTP loops keep it fresh (refresh, login).
      getToken: async () => member.accessToken,
      reconnect: { initialDelayMs: 200, maxDelayMs: 2_000 },
    });
    const entry: { client: StreamClient; gateway: number; stream?: SampleStream; ready: boolean } = {
      client,
      gateway,
      ready: false,
    };
    this.clients.push(entry);
    client.on('ready', () => {
      entry.ready = true;
      entry.stream ??= client.openStream({ rate: 50, channels: ['x', 'y', 'z'] });
    });
    client.on('close', ({ code, reason }) => {
      entry.ready = false;
      this.closes.push({ at: Date.now(), gateway, code, reason });
    });
    client.connect().catch(() => {});
  }

  private async loop(index: number): Promise<void> {
    let n = index;
    while (this.running) {
      const op = OPS[n % OPS.length]!;
      const gateway = n % this.urls().length;
      const member = this.members[n % this.members.length]!;
      n++;
      await this.once(op, gateway, member);
      await new Promise((resolve) => setTimeout(resolve, this.options.pauseMs ?? 20));
    }
  }

  private async once(op: Op, gateway: number, member: Member): Promise<void> {
    const url = this.urls()[gateway]!;
    const started = Date.now();
    let status: number;
    let code: string | undefined;
    try {
      const res = await this.request(op, url, member);
      status = res.status;
      const body = (await res.json().catch(() => ({}))) as {
        error?: { code?: string };
        accessToken?: string;
        refreshToken?: string;
      };
      code = body.error?.code;
      if (op === 'refresh' && status === 200 && body.accessToken && body.refreshToken) {
        member.accessToken = body.accessToken;
        member.refreshToken = body.refreshToken;
      }
      if (op === 'login' && status === 201 && body.accessToken && body.refreshToken) {
        member.accessToken = body.accessToken;
        member.refreshToken = body.refreshToken;
      }
      // A session lost to a refresh whose answer never arrived (reuse detection): log in again.
      if (status === 401 && (op === 'me' || op === 'refresh'))
        Object.assign(member, await logIn(url, member.username, member.password).catch(() => ({})));
    } catch {
      status = 0;
    }
    this.samples.push({
      at: started,
      gateway,
      op,
      status,
      ...(code ? { code } : {}),
      ms: Date.now() - started,
      ...(op === 'code' ? { email: member.email } : {}),
    });
  }

  private request(op: Op, url: string, member: Member): Promise<Response> {
    const signal = AbortSignal.timeout(ANSWER_WITHIN_MS);
    const json = (path: string, body: unknown) =>
      fetch(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal,
      });
    switch (op) {
      case 'me':
        return fetch(`${url}/v1/accounts/me`, { headers: { authorization: `Bearer ${member.accessToken}` }, signal });
      case 'introspect':
        return json('/v1/tokens/introspect', { token: member.accessToken });
      case 'refresh':
        return json('/v1/sessions/refresh', { refreshToken: member.refreshToken });
      case 'login':
        return json('/v1/sessions', { identifier: member.username, password: member.password });
      case 'code':
        return json('/v1/codes', { channel: 'email', to: member.email, purpose: 'login' });
    }
  }
}

/**
 * Answers that break the contract while a dependency is down: no answer or a hang, any 5xx but
 * a catalogued 503 DEPENDENCY_UNAVAILABLE, and that 503 taking long (it must fail fast).
 */
export function contractBreaches(samples: readonly Sample[], failFastMs = 3_000): Sample[] {
  return samples.filter(
    (s) =>
      s.status === 0 ||
      s.ms >= ANSWER_WITHIN_MS ||
      (s.status >= 500 && !(s.status === 503 && s.code === 'DEPENDENCY_UNAVAILABLE')) ||
      (s.status === 503 && s.ms > failFastMs),
  );
}

/** Socket closes a client should not see: anything a client must not reconnect after, but a normal close. */
export function terminalCloses(closes: readonly SocketClose[]): SocketClose[] {
  return closes.filter((c) => c.code !== 1000 && !isReconnectWorthy(c.code));
}

export function summary(samples: readonly Sample[]): string {
  const byStatus = new Map<string, number>();
  for (const s of samples) {
    const key = `${s.status}${s.code ? ` ${s.code}` : ''}`;
    byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
  }
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  const p99 = ms[Math.floor(ms.length * 0.99)] ?? 0;
  return `${samples.length} answers, p99 ${p99} ms: ${JSON.stringify(Object.fromEntries(byStatus))}`;
}
