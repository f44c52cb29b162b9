import { randomBytes } from 'node:crypto';
import * as hdr from 'hdr-histogram-js';
import WebSocket from 'ws';
import { isReconnectWorthy } from '../../protocol/errors.ts';
import { encodeFrame } from '../../protocol/frames.ts';
import { STREAM_PATH, STREAM_SUBPROTOCOL } from '../../protocol/messages.ts';
import type { SoakOptions } from './soak-options.ts';

/** A soak account: made over the public API, its password kept for logins during the run. */
export interface SoakAccount {
  username: string;
  password: string;
  /** The session the account's sockets use (never ended by the churn). */
  socketToken: string;
  /** The session the HTTP churn rotates and replaces. */
  http: { accessToken: string; refreshToken: string };
}

type Histogram = ReturnType<typeof hdr.build>;
const histogram = (): Histogram =>
  hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });

/** What happened since the last `take()`. */
export interface TrafficWindow {
  framesSent: number;
  acks: number;
  ackP50Ms: number;
  ackP99Ms: number;
  readySockets: number;
  closes: Record<string, number>;
  reconnects: number;
  http: Record<string, number>;
  httpP50Ms: number;
  httpP99Ms: number;
}

async function post(
  url: string,
  path: string,
  body: unknown,
  token?: string,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json().catch(() => ({}))) as Record<string, unknown> };
}

async function login(url: string, username: string, password: string): Promise<{ accessToken: string; refreshToken: string }> {
  const res = await post(url, '/v1/sessions', { identifier: username, password });
  if (res.status !== 201) throw new Error(`login of ${username} answered ${res.status}: ${JSON.stringify(res.json)}`);
  return { accessToken: String(res.json.accessToken), refreshToken: String(res.json.refreshToken) };
}

/** Signs up `count` throwaway accounts (4 at a time: bcrypt runs on the gateway's cores), each with two sessions. */
export async function makeAccounts(url: string, count: number, onProgress: (done: number) => void): Promise<SoakAccount[]> {
  const tag = randomBytes(3).toString('hex');
  const accounts = new Array<SoakAccount>(count);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < count) {
      const index = next++;
      const username = `soak-${tag}-${index}`;
      const password = randomBytes(12).toString('base64url');
      const created = await post(url, '/v1/accounts', { username, password });
      if (created.status !== 201) throw new Error(`sign-up answered ${created.status}: ${JSON.stringify(created.json)}`);
      const sockets = await login(url, username, password);
      accounts[index] = { username, password, socketToken: sockets.accessToken, http: await login(url, username, password) };
      onProgress(++done);
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return accounts;
}

interface Device {
  ws: WebSocket | undefined;
  ready: boolean;
  seq: number;
  /** Send time (ms) of the frames that asked for an ack, by sequence number. */
  pending: Map<number, number>;
}

/**
 * The load of the soak: streaming sockets (a frame every 100 ms each, every 5th asking for an
 * ack; reconnected after reconnect-worthy closes, as the SDK would) and HTTP churn (password
 * logins that end the account's previous session, refresh rotations), each at a fixed rate.
 */
export class SoakTraffic {
  private readonly devices: Device[] = [];
  private readonly ack = histogram();
  private readonly httpLatency = histogram();
  private window = {
    framesSent: 0,
    acks: 0,
    reconnects: 0,
    closes: {} as Record<string, number>,
    http: {} as Record<string, number>,
  };
  private timers: NodeJS.Timeout[] = [];
  private running = false;
  private readonly frame: Uint8Array;
  private readonly samplesPerFrame: number;

  constructor(
    private readonly url: string,
    private readonly accounts: SoakAccount[],
    private readonly options: SoakOptions,
  ) {
    this.samplesPerFrame = Math.max(1, Math.round(options.rate / 10));
    const values = Array.from({ length: this.samplesPerFrame * options.channels }, (_, i) => Math.sin(i / 7) * 9.81);
    this.frame = encodeFrame({ stream: 1, seq: 0, timestamp: Date.now(), channels: options.channels, values });
  }

  /** Opens every socket, at most 64 upgrades in flight; resolves when each is ready or failed once. */
  async open(onProgress: (ready: number) => void): Promise<void> {
    this.running = true;
    let next = 0;
    const opener = async () => {
      while (next < this.options.sockets) {
        const index = next++;
        const device: Device = { ws: undefined, ready: false, seq: 0, pending: new Map() };
        this.devices.push(device);
        await this.connect(device, index);
        onProgress(this.devices.filter((d) => d.ready).length);
      }
    };
    await Promise.all(Array.from({ length: 64 }, opener));
  }

  private connect(device: Device, index: number): Promise<void> {
    const account = this.accounts[Math.floor(index / this.options.perUser) % this.accounts.length]!;
    const ws = new WebSocket(`${this.url.replace(/^http/, 'ws')}${STREAM_PATH}`, [
      STREAM_SUBPROTOCOL,
      `bearer.${account.socketToken}`,
    ]);
    device.ws = ws;
    return new Promise((resolve) => {
      ws.on('message', (data, isBinary) => {
        if (isBinary) return;
        const message = JSON.parse((data as Buffer).toString()) as { type: string; seq?: number };
        if (message.type === 'ready') {
          device.ready = true;
          ws.send(
            JSON.stringify({
              type: 'stream.open',
              stream: 1,
              rate: this.samplesPerFrame * 10,
              channels: Array.from({ length: this.options.channels }, (_, c) => `c${c}`),
            }),
          );
          resolve();
        } else if (message.type === 'ack' && message.seq !== undefined) {
          this.window.acks++;
          const now = performance.now();
          for (const [seq, sentAt] of device.pending) {
            if (seq > message.seq) break;
            this.ack.recordValue(Math.max(1, Math.round((now - sentAt) * 1000)));
            device.pending.delete(seq);
          }
        }
      });
      ws.on('error', () => {});
      ws.on('close', (code, reason) => {
        device.ready = false;
        device.pending.clear();
        const key = `${code} ${reason.toString()}`.trim();
        this.window.closes[key] = (this.window.closes[key] ?? 0) + 1;
        resolve();
        if (this.running && isReconnectWorthy(code)) {
          this.window.reconnects++;
          setTimeout(() => void this.connect(device, index), 1_000).unref();
        }
      });
    });
  }

  start(): void {
    // Frames: one 5 ms ticker walks the devices in 20 slots, so each sends every 100 ms, spread out.
    let slot = 0;
    this.timers.push(
      setInterval(() => {
        const now = performance.now();
        for (let i = slot; i < this.devices.length; i += 20) this.sendFrame(this.devices[i]!, now);
        slot = (slot + 1) % 20;
      }, 5),
    );
    this.every(this.options.loginsPerSecond, () => this.relogin());
    this.every(this.options.refreshesPerSecond, () => this.refresh());
  }

  /** Runs `run` `perSecond` times a second, on a 50 ms ticker that carries fractions over. */
  private every(perSecond: number, run: () => Promise<void>): void {
    if (perSecond <= 0) return;
    let due = 0;
    this.timers.push(
      setInterval(() => {
        due += perSecond / 20;
        for (; due >= 1; due--) void run();
      }, 50),
    );
  }

  private sendFrame(device: Device, now: number): void {
    if (!device.ready || !device.ws || device.ws.readyState !== WebSocket.OPEN) return;
    const seq = device.seq++;
    const ack = seq % 5 === 0;
    // The frame is encoded once; only its sequence number and flags change.
    const view = new DataView(this.frame.buffer, this.frame.byteOffset, this.frame.byteLength);
    view.setUint32(16, seq, true);
    view.setUint8(2, ack ? 1 : 0);
    if (ack) device.pending.set(seq, now);
    device.ws.send(this.frame, { binary: true });
    this.window.framesSent++;
  }

  private nextAccount = 0;
  private pick(): SoakAccount {
    return this.accounts[this.nextAccount++ % this.accounts.length]!;
  }

  private async timed(name: string, call: () => Promise<{ status: number }>): Promise<{ status: number } | undefined> {
    const started = performance.now();
    try {
      const result = await call();
      this.httpLatency.recordValue(Math.max(1, Math.round((performance.now() - started) * 1000)));
      const key = `${name} ${result.status}`;
      this.window.http[key] = (this.window.http[key] ?? 0) + 1;
      return result;
    } catch {
      this.window.http[`${name} failed`] = (this.window.http[`${name} failed`] ?? 0) + 1;
      return undefined;
    }
  }

  /** A new password login, then the previous HTTP session of the account ends (logout). */
  private async relogin(): Promise<void> {
    const account = this.pick();
    const previous = account.http.accessToken;
    const result = await this.timed('login', async () => {
      const res = await post(this.url, '/v1/sessions', { identifier: account.username, password: account.password });
      if (res.status === 201)
        account.http = { accessToken: String(res.json.accessToken), refreshToken: String(res.json.refreshToken) };
      return res;
    });
    if (result?.status === 201) {
      await this.timed('logout', () =>
        fetch(`${this.url}/v1/sessions/current`, { method: 'DELETE', headers: { authorization: `Bearer ${previous}` } }),
      );
    }
  }

  private async refresh(): Promise<void> {
    const account = this.pick();
    await this.timed('refresh', async () => {
      const res = await post(this.url, '/v1/sessions/refresh', { refreshToken: account.http.refreshToken });
      if (res.status === 200)
        account.http = { accessToken: String(res.json.accessToken), refreshToken: String(res.json.refreshToken) };
      return res;
    });
  }

  /** The window since the last call, then a fresh one. */
  take(): TrafficWindow {
    const ms = (h: Histogram, p: number) => (h.totalCount === 0 ? 0 : Math.round(h.getValueAtPercentile(p)) / 1000);
    const taken: TrafficWindow = {
      framesSent: this.window.framesSent,
      acks: this.window.acks,
      ackP50Ms: ms(this.ack, 50),
      ackP99Ms: ms(this.ack, 99),
      readySockets: this.devices.filter((d) => d.ready).length,
      closes: this.window.closes,
      reconnects: this.window.reconnects,
      http: this.window.http,
      httpP50Ms: ms(this.httpLatency, 50),
      httpP99Ms: ms(this.httpLatency, 99),
    };
    this.ack.reset();
    this.httpLatency.reset();
    this.window = { framesSent: 0, acks: 0, reconnects: 0, closes: {}, http: {} };
    return taken;
  }

  get openSockets(): number {
    return this.devices.length;
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const timer of this.timers) clearInterval(timer);
    const closed = this.devices.map(
      (d) =>
        new Promise<void>((resolve) =>
          d.ws && d.ws.readyState !== WebSocket.CLOSED ? d.ws.once('close', () => resolve()) : resolve(),
        ),
    );
    for (const d of this.devices) d.ws?.close(1000);
    await Promise.race([Promise.all(closed), new Promise((resolve) => setTimeout(resolve, 10_000))]);
  }
}
