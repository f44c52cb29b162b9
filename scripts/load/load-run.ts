import WebSocket from 'ws';
import { StreamClient, refreshingTokenSource, type SampleStream, type TokenPair } from '../../protocol/client/index.ts';
import type { LoadOptions } from './load-options.ts';
import { histogram } from './latency.ts';
import type { ReplaySource } from './replay-data.ts';

/** One simulated device: a StreamClient, its stream, and the frames awaiting an ack. */
interface Device {
  client: StreamClient;
  stream: SampleStream | undefined;
  /** Flattened (seq, sentAt) pairs of frames that asked for an ack, oldest first. */
  pending: number[];
  /** The server's cumulative frame count on the current connection. */
  ackedFrames: number;
  framesSent: number;
  ready: boolean;
  /** --verify: the subject's recording this device replays, where it is, and windows in flight. */
  replay: Float32Array | undefined;
  cursor: number;
  /** Samples sent on the current connection: windows are numbered from its first sample. */
  samplesSent: number;
  windowSamples: number;
  hopSamples: number;
  /** When the frame completing window w was sent (performance.now()), at w mod 64. */
  windowSentAt: Float64Array | undefined;
}

/** Continuous verification: which subject's data device i replays and at what rate. */
export interface ReplayPlan {
  source: ReplaySource;
  /** Index of this run's first account in the whole run (multi-process runs split accounts). */
  firstAccount: number;
}

export interface Counters {
  framesSent: number;
  framesAcked: number;
  acks: number;
  verdicts: number;
  samplesSent: number;
  /** Frames due but not sent (the socket was not ready). */
  framesSkipped: number;
  genuine: number;
  uncertain: number;
  impostor: number;
  /** Windows read as replays (replay detection on, one recording streamed again). */
  replay: number;
  /** `error` messages by code (e.g. windows the server could not score). */
  errors: Record<string, number>;
}

export function emptyCounters(): Counters {
  return {
    framesSent: 0,
    framesAcked: 0,
    acks: 0,
    verdicts: 0,
    samplesSent: 0,
    framesSkipped: 0,
    genuine: 0,
    uncertain: 0,
    impostor: 0,
    replay: 0,
    errors: {},
  };
}

/** Adds `more` into `total` (every numeric counter, and errors by code). */
export function addCounters(total: Counters, more: Counters): Counters {
  for (const key of Object.keys(total) as Array<keyof Counters>) {
    if (key !== 'errors') total[key] += more[key];
  }
  for (const [code, n] of Object.entries(more.errors)) total.errors[code] = (total.errors[code] ?? 0) + n;
  return total;
}

/**
 * Opens the sockets, streams samples on a fixed schedule and measures. Sending runs on one 5 ms
 * ticker that walks the devices in slots (device i sends in slot i mod slots), so frames are
 * spread evenly over each frame period instead of arriving in bursts.
 */
export class LoadRun {
  readonly devices: Device[] = [];
  readonly counters: Counters = emptyCounters();
  readonly closes: Record<string, number> = {};
  readonly connectLatency = histogram();
  readonly ackLatency = histogram();
  /** Ack latency since the last progress line. */
  readonly recentAckLatency = histogram();
  readonly verdictLatency = histogram();
  /** From sending the frame that completed a window to receiving its verdict (same machine clock). */
  readonly verdictEndToEnd = histogram();
  /** How late the send ticker ran behind its schedule: a busy generator shows here. */
  readonly sendLag = histogram();
  connectFailures = 0;
  readyCount = 0;
  connectStartedAt = 0;
  allSettledAt = 0;
  private ticker: NodeJS.Timeout | undefined;
  private slot = 0;
  private readonly slots: Device[][];
  private readonly samplesPerFrame: number;
  private readonly payload: Float32Array;
  private frameCounter = 0;
  private nextSlotAt: number | undefined;

  constructor(
    private readonly options: LoadOptions,
    private readonly baseUrl: string,
    private readonly sessions: TokenPair[],
    private readonly replay?: ReplayPlan,
  ) {
    const slotCount = Math.max(1, Math.round(options.frameMs / 5));
    this.slots = Array.from({ length: slotCount }, () => []);
    this.samplesPerFrame = Math.max(1, Math.round((options.rate * options.frameMs) / 1000));
    this.payload = new Float32Array(this.samplesPerFrame * options.channels);
    for (let i = 0; i < this.payload.length; i++) this.payload[i] = Math.sin(i / 7) * 9.81;
  }

  /** Samples per second per socket actually sent (whole samples per frame). */
  get effectiveRate(): number {
    return this.options.rate === 0 ? 0 : (this.samplesPerFrame * 1000) / this.options.frameMs;
  }

  /** Opens every socket (paced by --ramp, bounded by --concurrency). Resolves when all settled. */
  async connectAll(): Promise<void> {
    const { connections, ramp, concurrency, perUser } = this.options;
    this.connectStartedAt = performance.now();
    const sources = this.sessions.map((tokens, index) =>
      refreshingTokenSource({ baseUrl: this.baseUrl, tokens, onRotate: (next) => (this.sessions[index] = next) }),
    );
    let inFlight = 0;
    const waiters: Array<() => void> = [];
    const slotFree = () => (inFlight < concurrency ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve)));
    const attempts: Array<Promise<void>> = [];
    // Round-robin over the accounts (socket k of every account, then k + 1): each account's first
    // socket makes the gateway load that user's state (session, model), so those loads overlap.
    const accounts = Math.ceil(connections / perUser);
    const order: number[] = [];
    for (let k = 0; k < perUser; k++) {
      for (let a = 0; a < accounts; a++) if (a * perUser + k < connections) order.push(a * perUser + k);
    }
    for (const [n, i] of order.entries()) {
      if (ramp > 0) {
        const due = this.connectStartedAt + (n * ramp * 1000) / connections;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      }
      await slotFree();
      inFlight++;
      attempts.push(
        this.connectOne(i, sources[Math.floor(i / perUser)]!).finally(() => {
          inFlight--;
          waiters.shift()?.();
        }),
      );
    }
    await Promise.all(attempts);
    this.allSettledAt = performance.now();
  }

  private async connectOne(index: number, getToken: () => Promise<string>): Promise<void> {
    const client = new StreamClient({
      url: this.baseUrl,
      WebSocket,
      getToken,
      reconnect: this.options.reconnect ? { initialDelayMs: 500, maxDelayMs: 10_000 } : false,
    });
    const device: Device = {
      client,
      stream: undefined,
      pending: [],
      ackedFrames: 0,
      framesSent: 0,
      ready: false,
      replay: undefined,
      cursor: 0,
      samplesSent: 0,
      windowSamples: 0,
      hopSamples: 0,
      windowSentAt: undefined,
    };
    if (this.replay) {
      const { source, firstAccount } = this.replay;
      const subject = source.subjects[(firstAccount + Math.floor(index / this.options.perUser)) % source.subjects.length]!;
      device.replay = source.stream(subject);
      // Devices of one subject start at different places of the recording.
      const samples = device.replay.length / source.channels.length;
      device.cursor = Math.floor((((index * 7919) % 997) / 997) * Math.max(1, samples - this.samplesPerFrame));
      device.windowSentAt = new Float64Array(64);
    }
    this.devices.push(device);
    client.on('ready', (ready) => {
      device.ready = true;
      device.ackedFrames = 0; // a new connection counts from zero
      device.pending.length = 0;
      device.samplesSent = 0;
      if (ready.model) {
        device.windowSamples = Math.round(ready.model.window * ready.model.rate);
        device.hopSamples = Math.round(ready.model.hop * ready.model.rate);
      }
    });
    client.on('close', ({ code }) => {
      device.ready = false;
      this.closes[code] = (this.closes[code] ?? 0) + 1;
    });
    client.on('ack', (ack) => {
      this.counters.acks++;
      if (ack.frames > device.ackedFrames) {
        this.counters.framesAcked += ack.frames - device.ackedFrames;
        device.ackedFrames = ack.frames;
      }
      const now = performance.now();
      const { pending } = device;
      let drop = 0;
      while (drop < pending.length && pending[drop]! <= ack.seq) {
        const us = Math.max(1, Math.round((now - pending[drop + 1]!) * 1000));
        this.ackLatency.recordValue(us);
        this.recentAckLatency.recordValue(us);
        drop += 2;
      }
      if (drop > 0) pending.splice(0, drop);
    });
    client.on('verdict', (verdict) => {
      this.counters.verdicts++;
      this.counters[verdict.decision]++;
      this.verdictLatency.recordValue(Math.max(1, Math.round(verdict.latencyMs * 1000)));
      const sentAt = device.windowSentAt?.[verdict.window & 63];
      if (sentAt) this.verdictEndToEnd.recordValue(Math.max(1, Math.round((performance.now() - sentAt) * 1000)));
    });
    client.on('error', (error) => {
      this.counters.errors[error.code] = (this.counters.errors[error.code] ?? 0) + 1;
    });
    const started = performance.now();
    try {
      await client.connect();
    } catch {
      this.connectFailures++;
      return;
    }
    this.connectLatency.recordValue(Math.max(1, Math.round((performance.now() - started) * 1000)));
    this.readyCount++;
    if (this.options.rate > 0) {
      const source = this.replay?.source;
      device.stream = client.openStream({
        rate: source ? source.rate : this.effectiveRate,
        channels: source ? [...source.channels] : Array.from({ length: this.options.channels }, (_, c) => `c${c}`),
        modality: source ? 'motion' : 'load',
      });
      this.slots[index % this.slots.length]!.push(device);
    }
  }

  startStreaming(): void {
    if (this.options.rate === 0) return;
    this.ticker = setInterval(() => this.tick(), 5);
  }

  stopStreaming(): void {
    clearInterval(this.ticker);
  }

  private tick(): void {
    // Slots run on a virtual clock (one per 5 ms): a late timer catches up on the slots it
    // missed, so the offered rate holds; after a stall of a whole period, it starts afresh.
    const now = performance.now();
    if (this.nextSlotAt !== undefined) this.sendLag.recordValue(Math.max(1, Math.round((now - this.nextSlotAt) * 1000)));
    if (this.nextSlotAt === undefined || now - this.nextSlotAt > this.options.frameMs) this.nextSlotAt = now;
    while (this.nextSlotAt <= now) {
      const devices = this.slots[this.slot]!;
      this.slot = (this.slot + 1) % this.slots.length;
      for (const device of devices) this.send(device, now);
      this.nextSlotAt += this.options.frameMs / this.slots.length;
    }
  }

  private send(device: Device, now: number): void {
    if (!device.ready || !device.stream) {
      if (device.stream) this.counters.framesSkipped++;
      return;
    }
    const ackEvery = this.options.ackEvery;
    const ack = ackEvery > 0 && this.frameCounter++ % ackEvery === 0;
    const n = this.samplesPerFrame;
    let payload = this.payload;
    if (device.replay) {
      const c = this.replay!.source.channels.length;
      if ((device.cursor + n) * c > device.replay.length) device.cursor = 0; // loop the recording
      payload = device.replay.subarray(device.cursor * c, (device.cursor + n) * c);
    }
    const seq = device.stream.send(payload, { ack });
    if (seq === undefined) {
      this.counters.framesSkipped++;
      return;
    }
    device.framesSent++;
    this.counters.framesSent++;
    this.counters.samplesSent += n;
    if (ack) device.pending.push(seq, now);
    if (device.replay) {
      device.cursor += n;
      this.windowsCompleted(device, device.samplesSent, device.samplesSent + n, now);
      device.samplesSent += n;
    }
  }

  /** Notes when each window whose last sample is among samples [from, to) left. */
  private windowsCompleted(device: Device, from: number, to: number, now: number): void {
    const { windowSamples: size, hopSamples: hop, windowSentAt } = device;
    if (!windowSentAt || size === 0) return;
    // Window w ends at sample w·hop + size − 1.
    const first = Math.max(0, Math.ceil((from - size + 1) / hop));
    const last = Math.floor((to - size) / hop);
    for (let w = first; w <= last; w++) windowSentAt[w & 63] = now;
  }

  /** Says bye on every socket and waits (bounded) for the closes. */
  async closeAll(timeoutMs = 10_000): Promise<void> {
    const closed = this.devices.map((d) =>
      d.client.state === 'closed' ? Promise.resolve() : d.client.once('close').then(() => undefined),
    );
    for (const device of this.devices) device.client.close();
    await Promise.race([Promise.all(closed), new Promise((resolve) => setTimeout(resolve, timeoutMs))]);
  }

  /** Sockets ready right now. */
  get openNow(): number {
    let n = 0;
    for (const device of this.devices) if (device.ready) n++;
    return n;
  }
}
