import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as hdr from 'hdr-histogram-js';
import type { TokenPair } from '../../protocol/client/index.ts';
import type { LoadOptions } from './load-options.ts';
import { histogram, type Histogram } from './latency.ts';
import { LoadRun, addCounters, emptyCounters, type Counters, type ReplayPlan } from './load-run.ts';
import { HISTOGRAMS, type FromWorker, type HistogramName, type ToWorker, type WorkerReport } from './load-worker.ts';

/** What a measurement needs from whatever drives the sockets: this process, or several children. */
export interface LoadDriver {
  readonly processes: number;
  counters(): Counters;
  closes(): Record<string, number>;
  readyCount(): number;
  connectFailures(): number;
  openNow(): number;
  /** Seconds from the first upgrade to the last socket settling. */
  connectSeconds(): number;
  /** Merged over processes. `recentAckLatency` covers the time since it was last read. */
  histogram(name: HistogramName): Histogram;
  /** Starts the send ticker and opens every socket; resolves when all settled. */
  connect(): Promise<void>;
  /** The measured window starts: latency histograms restart. */
  hold(): Promise<void>;
  stop(): Promise<void>;
  close(): Promise<void>;
  /** CPU seconds used so far and RSS now, over every generating process. */
  usage(): { cpuSeconds: number; rssBytes: number };
  /** Token pairs after the run (refresh tokens rotate). */
  sessions(): TokenPair[];
}

/** The original single-process generator. */
export class LocalDriver implements LoadDriver {
  readonly processes = 1;
  private readonly run: LoadRun;
  private readonly cpuAtStart = process.cpuUsage();

  constructor(
    options: LoadOptions,
    url: string,
    private readonly tokens: TokenPair[],
    replay: ReplayPlan | undefined,
  ) {
    this.run = new LoadRun(options, url, tokens, replay);
  }

  counters = () => this.run.counters;
  closes = () => this.run.closes;
  readyCount = () => this.run.readyCount;
  connectFailures = () => this.run.connectFailures;
  openNow = () => this.run.openNow;
  connectSeconds = () => (this.run.allSettledAt - this.run.connectStartedAt) / 1000;

  histogram(name: HistogramName): Histogram {
    if (name !== 'recentAckLatency') return this.run[name];
    const copy = histogram();
    copy.add(this.run.recentAckLatency);
    this.run.recentAckLatency.reset();
    return copy;
  }

  async connect(): Promise<void> {
    this.run.startStreaming();
    await this.run.connectAll();
  }

  async hold(): Promise<void> {
    for (const name of ['ackLatency', 'verdictLatency', 'verdictEndToEnd', 'sendLag'] as const) this.run[name].reset();
  }

  async stop(): Promise<void> {
    this.run.stopStreaming();
  }

  close = () => this.run.closeAll();

  usage() {
    const cpu = process.cpuUsage(this.cpuAtStart);
    return { cpuSeconds: (cpu.user + cpu.system) / 1e6, rssBytes: process.memoryUsage.rss() };
  }

  sessions = () => this.tokens;
}

const WORKER = fileURLToPath(new URL('./load-worker.ts', import.meta.url));

interface Child {
  process: ChildProcess;
  report: WorkerReport | undefined;
  sessions: TokenPair[];
  connectSeconds: number;
  waiters: Map<FromWorker['type'], (message: FromWorker) => void>;
}

/**
 * Splits the accounts (and their sockets) between `processes` child processes running
 * load-worker.ts, and merges what they report: counters add up, HDR histograms are merged.
 */
export class ProcessDriver implements LoadDriver {
  private readonly children: Child[] = [];

  constructor(
    readonly processes: number,
    private readonly options: LoadOptions,
    private readonly url: string,
    private readonly tokens: TokenPair[],
    private readonly verify: boolean,
  ) {}

  counters(): Counters {
    const total = emptyCounters();
    for (const child of this.children) if (child.report) addCounters(total, child.report.counters);
    return total;
  }

  closes(): Record<string, number> {
    const total: Record<string, number> = {};
    for (const child of this.children)
      for (const [code, n] of Object.entries(child.report?.closes ?? {})) total[code] = (total[code] ?? 0) + n;
    return total;
  }

  private sum(pick: (r: WorkerReport) => number): number {
    return this.children.reduce((n, child) => n + (child.report ? pick(child.report) : 0), 0);
  }

  readyCount = () => this.sum((r) => r.readyCount);
  connectFailures = () => this.sum((r) => r.connectFailures);
  openNow = () => this.sum((r) => r.openNow);
  connectSeconds = () => Math.max(0, ...this.children.map((c) => c.connectSeconds));

  histogram(name: HistogramName): Histogram {
    const merged = histogram();
    for (const child of this.children) {
      const encoded = child.report?.histograms[name];
      if (encoded) merged.add(hdr.decodeFromCompressedBase64(encoded));
    }
    // Recent ack latency is per report: read once.
    if (name === 'recentAckLatency') for (const child of this.children) if (child.report) child.report.histograms[name] = '';
    return merged;
  }

  async connect(): Promise<void> {
    const { perUser, connections } = this.options;
    const accounts = this.tokens.length;
    const per = Math.ceil(accounts / this.processes);
    const starts: Array<Promise<FromWorker>> = [];
    for (let k = 0; k < this.processes; k++) {
      const first = k * per;
      const slice = this.tokens.slice(first, first + per);
      const socketCount = Math.max(0, Math.min(slice.length * perUser, connections - first * perUser));
      if (slice.length === 0 || socketCount === 0) continue;
      const child: Child = {
        process: fork(WORKER, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
        report: undefined,
        sessions: slice,
        connectSeconds: 0,
        waiters: new Map(),
      };
      child.process.on('message', (message: FromWorker) => this.receive(child, message));
      child.process.once('exit', (code) => {
        for (const wake of child.waiters.values()) wake({ type: 'failed', message: `load worker exited with ${code}` });
      });
      this.children.push(child);
      const options: LoadOptions = {
        ...this.options,
        connections: socketCount,
        concurrency: Math.max(1, Math.ceil(this.options.concurrency / this.processes)),
      };
      starts.push(
        this.request(
          child,
          { type: 'start', options, url: this.url, sessions: slice, firstAccount: first, verify: this.verify },
          'connected',
        ),
      );
    }
    const answers = await Promise.all(starts);
    const failed = answers.find((a) => a.type === 'failed');
    if (failed && failed.type === 'failed') throw new Error(failed.message);
  }

  async hold(): Promise<void> {
    for (const child of this.children) this.post(child, { type: 'hold' });
  }

  async stop(): Promise<void> {
    await Promise.all(this.children.map((child) => this.request(child, { type: 'stop' }, 'stopped')));
  }

  async close(): Promise<void> {
    await Promise.all(this.children.map((child) => this.request(child, { type: 'close' }, 'closed')));
  }

  usage() {
    return { cpuSeconds: this.sum((r) => r.cpuSeconds), rssBytes: this.sum((r) => r.rssBytes) };
  }

  sessions(): TokenPair[] {
    return this.children.flatMap((child) => child.sessions);
  }

  private receive(child: Child, message: FromWorker): void {
    if (message.type !== 'failed') child.report = message.report;
    if (message.type === 'connected') child.connectSeconds = (message.allSettledAt - message.connectStartedAt) / 1000;
    if (message.type === 'stopped') child.sessions = message.sessions;
    const waiter = child.waiters.get(message.type) ?? (message.type === 'failed' ? [...child.waiters.values()][0] : undefined);
    if (waiter) {
      child.waiters.clear();
      waiter(message);
    }
  }

  private post(child: Child, message: ToWorker): void {
    child.process.send(message);
  }

  private request(child: Child, message: ToWorker, answer: FromWorker['type']): Promise<FromWorker> {
    return new Promise((resolve) => {
      child.waiters.set(answer, resolve);
      this.post(child, message);
    });
  }
}

export { HISTOGRAMS };
