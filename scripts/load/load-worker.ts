/**
 * One load-generating child process of `npm run load -- --processes P`: drives its share of
 * the sockets with a LoadRun and answers the parent over IPC (load-processes.ts). One Node
 * process cannot push 10,000 streaming sockets on this machine; several can, on other cores.
 */
import * as hdr from 'hdr-histogram-js';
import type { TokenPair } from '../../protocol/client/index.ts';
import type { LoadOptions } from './load-options.ts';
import { LoadRun } from './load-run.ts';
import { replaySource } from './replay-data.ts';

export type ToWorker =
  | { type: 'start'; options: LoadOptions; url: string; sessions: TokenPair[]; firstAccount: number; verify: boolean }
  | { type: 'hold' }
  | { type: 'stop' }
  | { type: 'close' };

/** Counters and histograms (HDR, compressed base64) a worker reports. */
export interface WorkerReport {
  counters: LoadRun['counters'];
  closes: Record<string, number>;
  readyCount: number;
  connectFailures: number;
  openNow: number;
  histograms: Record<HistogramName, string>;
  cpuSeconds: number;
  rssBytes: number;
}

export type HistogramName =
  'connectLatency' | 'ackLatency' | 'recentAckLatency' | 'verdictLatency' | 'verdictEndToEnd' | 'sendLag';
export const HISTOGRAMS: readonly HistogramName[] = [
  'connectLatency',
  'ackLatency',
  'recentAckLatency',
  'verdictLatency',
  'verdictEndToEnd',
  'sendLag',
];

export type FromWorker =
  | { type: 'connected'; report: WorkerReport; connectStartedAt: number; allSettledAt: number }
  | { type: 'tick'; report: WorkerReport }
  | { type: 'stopped'; report: WorkerReport; sessions: TokenPair[] }
  | { type: 'closed'; report: WorkerReport }
  | { type: 'failed'; message: string };

let run: LoadRun | undefined;
let sessions: TokenPair[] = [];
let ticker: NodeJS.Timeout | undefined;
const cpuAtStart = process.cpuUsage();

function send(message: FromWorker): void {
  process.send?.(message);
}

function report(): WorkerReport {
  const r = run!;
  const histograms = {} as Record<HistogramName, string>;
  for (const name of HISTOGRAMS) histograms[name] = hdr.encodeIntoCompressedBase64(r[name]);
  r.recentAckLatency.reset();
  const cpu = process.cpuUsage(cpuAtStart);
  return {
    counters: { ...r.counters, errors: { ...r.counters.errors } },
    closes: { ...r.closes },
    readyCount: r.readyCount,
    connectFailures: r.connectFailures,
    openNow: r.openNow,
    histograms,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    rssBytes: process.memoryUsage.rss(),
  };
}

async function start(message: Extract<ToWorker, { type: 'start' }>): Promise<void> {
  const { options, url, firstAccount } = message;
  sessions = message.sessions;
  const replay = message.verify
    ? { source: await replaySource(options.data, options.rate, options.channels), firstAccount }
    : undefined;
  run = new LoadRun(options, url, sessions, replay);
  // Performance timestamps are per process: the parent only compares durations.
  run.startStreaming();
  await run.connectAll();
  send({ type: 'connected', report: report(), connectStartedAt: run.connectStartedAt, allSettledAt: run.allSettledAt });
  ticker = setInterval(() => send({ type: 'tick', report: report() }), 1_000);
}

process.on('message', (message: ToWorker) => {
  const handle = async () => {
    switch (message.type) {
      case 'start':
        return start(message);
      case 'hold':
        for (const name of ['ackLatency', 'verdictLatency', 'verdictEndToEnd', 'sendLag'] as const) run?.[name].reset();
        return;
      case 'stop':
        run?.stopStreaming();
        clearInterval(ticker);
        send({ type: 'stopped', report: report(), sessions });
        return;
      case 'close':
        await run?.closeAll();
        send({ type: 'closed', report: report() });
        setTimeout(() => process.exit(0), 50);
        return;
    }
  };
  handle().catch((err: unknown) => send({ type: 'failed', message: err instanceof Error ? err.message : String(err) }));
});

// The parent going away ends this process too.
process.on('disconnect', () => process.exit(0));
