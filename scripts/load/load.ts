import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { TokenPair } from '../../protocol/client/index.ts';
import { LOAD_USAGE, LoadOptionError, parseLoadOptions, type LoadOptions } from './load-options.ts';
import { prepareSessions, rememberRefreshTokens } from './load-accounts.ts';
import { LoadRun, percentiles, type Percentiles } from './load-run.ts';
import { sampleServer, type ServerSample } from './server-stats.ts';
import { spawnLoadGateway, type SpawnedGateway } from './spawn-gateway.ts';

/**
 * `npm run load -- --connections N --rate HZ --channels C --duration S [--ramp S] [--json]`
 *
 * Opens N authenticated sockets on a local gateway (accounts through the HTTP API), streams
 * sample frames, prints a progress line every second and a report at the end: connect rate,
 * frames/s sent and acknowledged, ack (and verdict) latency percentiles from HDR histograms,
 * closes by code, and the server's RSS and CPU from its /metrics. `--baseline` first runs the
 * same load against bare uWS for comparison. Loopback only; bounded run time.
 */

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export interface Measurement {
  target: { url: string; kind: 'vigil' | 'baseline'; spawned: boolean };
  connect: { requested: number; ready: number; failed: number; seconds: number; perSecond: number; latencyMs: Percentiles };
  streaming: {
    seconds: number;
    effectiveRateHz: number;
    framesSent: number;
    framesAcked: number;
    framesSentPerSecond: number;
    framesAckedPerSecond: number;
    samplesPerSecond: number;
    ackLatencyMs: Percentiles;
    verdicts: number;
    verdictLatencyMs: Percentiles;
  };
  /** Closes seen before the run ended, by close code. */
  closes: Record<string, number>;
  server:
    | {
        rssBeforeMiB: number;
        rssWithSocketsMiB: number;
        rssPeakMiB: number;
        rssPerSocketKiB: number;
        cpuSecondsDuringHold: number;
        cpuPercentOfOneCore: number;
      }
    | undefined;
  generator: { cpuPercentOfOneCore: number; rssMiB: number };
}

export interface LoadSummary {
  tool: string;
  versions: { node: string; vigil: string; uWebSockets: string };
  machine: {
    cpus: number;
    cpu: string;
    memoryGiB: number;
    kernel: string;
    loadAverageAtStart: number[];
    loadAverageAtEnd: number[];
  };
  options: LoadOptions;
  vigil: Measurement;
  baseline: Measurement | undefined;
}

const MiB = 1024 * 1024;
const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const say = (line: string) => process.stderr.write(`${line}\n`);

async function main(): Promise<void> {
  let options: LoadOptions;
  try {
    options = parseLoadOptions(process.argv.slice(2));
  } catch (err) {
    if (err instanceof LoadOptionError) {
      process.stderr.write(`load: ${err.message}\n\n${LOAD_USAGE}\n`);
      process.exit(2);
    }
    throw err;
  }
  // Bounded: whatever happens, the run ends (account preparation gets a second per account).
  const accounts = Math.ceil(options.connections / options.perUser);
  const perRun = options.ramp + options.settle + options.duration + 60;
  const budgetSeconds = accounts + perRun * (options.baseline ? 2 : 1) + 120;
  const hardStop = setTimeout(() => {
    say(`load: run exceeded its time budget of ${budgetSeconds} s; exiting`);
    process.exit(3);
  }, budgetSeconds * 1000);
  hardStop.unref();

  // Other work on the machine shifts every figure; the report says how busy it was.
  const loadAverageAtStart = loadavg().map((l) => round(l, 2));
  let baseline: Measurement | undefined;
  if (options.baseline) {
    say('baseline: bare uWS with the same codec and messages…');
    const server = await spawnBaseline();
    try {
      const far = Math.floor(Date.now() / 1000) + 86_400;
      const token = `x.${Buffer.from(JSON.stringify({ iat: far - 172_800, exp: far })).toString('base64url')}.x`;
      const sessions = Array.from({ length: accounts }, () => ({ accessToken: token, refreshToken: 'unused' }));
      baseline = await measure(options, server.url, sessions, 'baseline', false);
    } finally {
      await server.stop();
    }
  }

  let spawned: SpawnedGateway | undefined;
  let url = options.url;
  if (options.spawn) {
    say('starting a gateway child process…');
    spawned = await spawnLoadGateway(options.perUser);
    url = spawned.url;
    say(`gateway at ${url} (pid ${spawned.child.pid})`);
  }
  try {
    const key = options.spawn ? 'spawn' : url;
    say(`preparing ${accounts} accounts (${options.perUser} sockets each) through the HTTP API…`);
    const sessions = await prepareSessions({
      baseUrl: url,
      key,
      count: accounts,
      file: options.accountsFile,
      onProgress: (done) => done % 50 === 0 && say(`  ${done}/${accounts}`),
    });
    const vigil = await measure(options, url, sessions, 'vigil', options.spawn);
    await rememberRefreshTokens(options.accountsFile, key, sessions);
    const summary: LoadSummary = {
      tool: 'vigil npm run load',
      versions: { node: process.version, vigil: version, uWebSockets: '20.30.0 (@trufflesuite/uws-js-unofficial)' },
      machine: {
        cpus: cpus().length,
        cpu: cpus()[0]?.model ?? 'unknown',
        memoryGiB: round(totalmem() / 1024 ** 3),
        kernel: release(),
        loadAverageAtStart,
        loadAverageAtEnd: loadavg().map((l) => round(l, 2)),
      },
      options,
      vigil,
      baseline,
    };
    process.stdout.write(options.json ? `${JSON.stringify(summary, null, 2)}\n` : report(summary));
  } finally {
    await spawned?.stop();
  }
  process.exit(0);
}

/** One run: open the sockets, settle, hold and measure, close. */
async function measure(
  options: LoadOptions,
  url: string,
  sessions: TokenPair[],
  kind: 'vigil' | 'baseline',
  spawned: boolean,
): Promise<Measurement> {
  const before = await settledSample(url, 3);
  const run = new LoadRun(options, url, sessions);
  const samples: ServerSample[] = [];
  let previous = { at: performance.now(), sent: 0, acked: 0 };
  const progress = setInterval(() => {
    void sampleServer(url).then((sample) => {
      if (sample) samples.push(sample);
      const now = performance.now();
      const seconds = (now - previous.at) / 1000;
      const sent = (run.counters.framesSent - previous.sent) / seconds;
      const acked = (run.counters.framesAcked - previous.acked) / seconds;
      previous = { at: now, sent: run.counters.framesSent, acked: run.counters.framesAcked };
      const ack = percentiles(run.recentAckLatency);
      run.recentAckLatency.reset();
      say(
        `${kind} t=${Math.round((now - run.connectStartedAt) / 1000)}s open=${run.openNow}/${options.connections} failed=${run.connectFailures} ` +
          `sent=${Math.round(sent)}/s acked=${Math.round(acked)}/s ack p50=${ack.p50}ms p99=${ack.p99}ms ` +
          `closes=${JSON.stringify(run.closes)}` +
          (sample
            ? ` server rss=${Math.round(sample.rssBytes / MiB)}MiB cpu=${cpuPercent(samples)}% sockets=${sample.readySockets}`
            : ''),
      );
    });
  }, 1_000);

  say(`${kind}: opening ${options.connections} sockets${options.ramp ? ` over ${options.ramp} s` : ''}…`);
  const generatorCpu = process.cpuUsage();
  run.startStreaming();
  await run.connectAll();
  const connectSeconds = (run.allSettledAt - run.connectStartedAt) / 1000;
  if (options.settle > 0) await sleep(options.settle * 1000);

  // The measured window: every socket is open (or failed); hold for --duration.
  run.ackLatency.reset();
  run.verdictLatency.reset();
  const holdStart = { at: performance.now(), wall: Date.now(), ...run.counters, server: await sampleServer(url) };
  await sleep(options.duration * 1000);
  const holdEnd = { at: performance.now(), ...run.counters, server: await sampleServer(url) };
  run.stopStreaming();
  clearInterval(progress);
  const closes = { ...run.closes };
  const cpu = process.cpuUsage(generatorCpu);
  const generatorSeconds = (holdEnd.at - run.connectStartedAt) / 1000;
  const holdSeconds = (holdEnd.at - holdStart.at) / 1000;
  const inHold = samples.filter((sample) => sample.at >= holdStart.wall);
  if (holdEnd.server) inHold.push(holdEnd.server);
  await run.closeAll();

  const perSecond = (count: number) => Math.round(count / holdSeconds);
  return {
    target: { url, kind, spawned },
    connect: {
      requested: options.connections,
      ready: run.readyCount,
      failed: run.connectFailures,
      seconds: round(connectSeconds, 2),
      perSecond: Math.round(run.readyCount / Math.max(connectSeconds, 0.001)),
      latencyMs: percentiles(run.connectLatency),
    },
    streaming: {
      seconds: round(holdSeconds, 2),
      effectiveRateHz: run.effectiveRate,
      framesSent: holdEnd.framesSent - holdStart.framesSent,
      framesAcked: holdEnd.framesAcked - holdStart.framesAcked,
      framesSentPerSecond: perSecond(holdEnd.framesSent - holdStart.framesSent),
      framesAckedPerSecond: perSecond(holdEnd.framesAcked - holdStart.framesAcked),
      samplesPerSecond: perSecond(holdEnd.samplesSent - holdStart.samplesSent),
      ackLatencyMs: percentiles(run.ackLatency),
      verdicts: holdEnd.verdicts - holdStart.verdicts,
      verdictLatencyMs: percentiles(run.verdictLatency),
    },
    closes,
    server: serverFigures(before, holdStart.server, holdEnd.server, inHold, samples, run.readyCount),
    generator: {
      cpuPercentOfOneCore: Math.round(((cpu.user + cpu.system) / 1e6 / generatorSeconds) * 100),
      rssMiB: Math.round(process.memoryUsage().rss / MiB),
    },
  };
}

async function spawnBaseline(): Promise<{ url: string; stop(): Promise<void> }> {
  const script = fileURLToPath(new URL('./baseline-stream-server.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const killChild = () => child.kill('SIGTERM');
  process.once('exit', killChild);
  const port = await new Promise<number>((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening (\d+)/.exec(output);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`baseline server exited with ${code}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        process.off('exit', killChild);
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/**
 * RSS moves with V8's garbage, not only with what is live. The lowest of a few samples taken a
 * second apart is the closest to the live set (it follows a collection).
 */
async function settledSample(url: string, count: number): Promise<ServerSample | undefined> {
  let lowest: ServerSample | undefined;
  for (let i = 0; i < count; i++) {
    await sleep(1_000);
    const sample = await sampleServer(url);
    if (sample && (!lowest || sample.rssBytes < lowest.rssBytes)) lowest = sample;
  }
  return lowest;
}

/** Server CPU over the last two samples, % of one core. */
function cpuPercent(samples: readonly ServerSample[]): number {
  const [a, b] = samples.slice(-2);
  if (!a || !b || b.at === a.at) return 0;
  return Math.round(((b.cpuSeconds - a.cpuSeconds) / ((b.at - a.at) / 1000)) * 100);
}

function serverFigures(
  before: ServerSample | undefined,
  start: ServerSample | undefined,
  end: ServerSample | undefined,
  hold: readonly ServerSample[],
  all: readonly ServerSample[],
  sockets: number,
): Measurement['server'] {
  if (!before || !start || !end || hold.length === 0) return undefined;
  const cpuSeconds = end.cpuSeconds - start.cpuSeconds;
  // Settled RSS with the sockets: the lowest sample of the hold's last five seconds.
  const lastFive = hold.filter((sample) => sample.at >= end.at - 5_500);
  const settled = Math.min(...lastFive.map((sample) => sample.rssBytes));
  return {
    rssBeforeMiB: round(before.rssBytes / MiB),
    rssWithSocketsMiB: round(settled / MiB),
    rssPeakMiB: round(Math.max(...all.map((sample) => sample.rssBytes), end.rssBytes) / MiB),
    rssPerSocketKiB: sockets > 0 ? round((settled - before.rssBytes) / 1024 / sockets, 2) : 0,
    cpuSecondsDuringHold: round(cpuSeconds, 2),
    cpuPercentOfOneCore: Math.round((cpuSeconds / ((end.at - start.at) / 1000)) * 100),
  };
}

function report(summary: LoadSummary): string {
  const p = (x: Percentiles) =>
    x.count === 0 ? 'n/a' : `p50 ${x.p50} ms · p90 ${x.p90} · p99 ${x.p99} · p99.9 ${x.p999} · max ${x.max}`;
  const o = summary.options;
  const block = (m: Measurement) => [
    `${m.target.kind === 'vigil' ? 'Vigil' : 'Baseline (bare uWS)'} at ${m.target.url}${m.target.spawned ? ' (spawned, NODE_ENV=production)' : ''}`,
    `  connect     ${m.connect.ready}/${m.connect.requested} ready, ${m.connect.failed} failed, in ${m.connect.seconds} s (${m.connect.perSecond}/s); upgrade→ready ${p(m.connect.latencyMs)}`,
    `  frames      sent ${m.streaming.framesSentPerSecond}/s (${m.streaming.samplesPerSecond} samples/s), acked ${m.streaming.framesAckedPerSecond}/s over ${m.streaming.seconds} s`,
    `  ack         ${p(m.streaming.ackLatencyMs)}`,
    `  verdicts    ${m.streaming.verdicts}${m.streaming.verdicts ? `; server latency ${p(m.streaming.verdictLatencyMs)}` : ''}`,
    `  closes      ${
      Object.keys(m.closes).length
        ? Object.entries(m.closes)
            .map(([code, n]) => `${code}×${n}`)
            .join(' ')
        : 'none'
    }`,
    m.server
      ? `  server      RSS ${m.server.rssBeforeMiB} MiB before → ${m.server.rssWithSocketsMiB} MiB with sockets (${m.server.rssPerSocketKiB} KiB/socket), peak ${m.server.rssPeakMiB} MiB; ` +
        `CPU ${m.server.cpuSecondsDuringHold} s in ${m.streaming.seconds} s = ${m.server.cpuPercentOfOneCore}% of one core`
      : '  server      /metrics not reachable',
    `  generator   CPU ${m.generator.cpuPercentOfOneCore}% of one core, RSS ${m.generator.rssMiB} MiB (same machine)`,
  ];
  return [
    '',
    `Vigil realtime load — ${o.connections} sockets, ${o.rate ? `${summary.vigil.streaming.effectiveRateHz} Hz × ${o.channels} ch in ${o.frameMs} ms frames` : 'idle'}, ` +
      `${o.ackEvery ? `ack every ${o.ackEvery === 1 ? '' : `${o.ackEvery}th `}frame` : 'no acks'}, ${o.duration} s measured after ${o.settle} s settle`,
    `machine: ${summary.machine.cpus} × ${summary.machine.cpu}, ${summary.machine.memoryGiB} GiB, Linux ${summary.machine.kernel}; Node ${summary.versions.node}; uWS ${summary.versions.uWebSockets}`,
    `load average: ${summary.machine.loadAverageAtStart.join(' / ')} at start, ${summary.machine.loadAverageAtEnd.join(' / ')} at end (1/5/15 min; other work on the machine shows here)`,
    ...(summary.baseline ? block(summary.baseline) : []),
    ...block(summary.vigil),
    '',
  ].join('\n');
}

// Ctrl-C runs the exit handlers, which stop any child this run started.
process.once('SIGINT', () => process.exit(130));

main().catch((err: unknown) => {
  process.stderr.write(`load: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
