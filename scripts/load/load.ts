import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { TokenPair } from '../../protocol/client/index.ts';
import { LOAD_USAGE, LoadOptionError, parseLoadOptions, type LoadOptions } from './load-options.ts';
import { freshLogin, prepareSessions, rememberRefreshTokens } from './load-accounts.ts';
import { runPeer } from './peer.ts';
import { LocalDriver, ProcessDriver, type LoadDriver } from './load-driver.ts';
import { ensureModels, type ModelPreparation } from './load-models.ts';
import { percentiles, type Percentiles } from './latency.ts';
import type { ReplayPlan } from './load-run.ts';
import { replaySource, type ReplaySource } from './replay-data.ts';
import { sampleServer, type ContinuousSample, type ServerSample } from './server-stats.ts';
import { spawnLoadGateway, type SpawnedGateway } from './spawn-gateway.ts';
import { redisCpuSeconds } from './redis-cpu.ts';

/**
 * `npm run load -- --connections N --rate HZ --channels C --duration S [--ramp S] [--json]`
 *
 * Opens N authenticated sockets on a local gateway (accounts through the HTTP API), streams
 * sample frames, prints a progress line every second and a report at the end: connect rate,
 * frames/s sent and acknowledged, ack (and verdict) latency percentiles from HDR histograms,
 * closes by code, and the server's RSS and CPU from its /metrics. `--baseline` first runs the
 * same load against bare uWS for comparison. Loopback only; bounded run time.
 *
 * `--verify` measures continuous verification: each account is enrolled once (a model trained
 * from its subject's recording), each socket replays that subject's held-out recording, and the
 * report adds verdict latency (server-side and end to end), windows scored per second, batch
 * sizes, dropped and late frames. `--processes P` spreads the sockets over P child processes
 * (HDR histograms merged) when one process cannot generate the load.
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
    /** From sending the frame that completed a window to receiving its verdict (generator clock). */
    verdictEndToEndMs: Percentiles;
    verdictsPerSecond: number;
    decisions: { genuine: number; uncertain: number; impostor: number };
    /** `error` messages received, by code. */
    errors: Record<string, number>;
    /** Frames due but not sent (socket not ready), and how late the generator's ticker ran. */
    framesSkipped: number;
    sendLagMs: Percentiles;
  };
  /** Continuous verification as the server counted it during the hold (--verify). */
  continuous:
    | {
        windowsScoredPerSecond: number;
        windowsFailed: number;
        windowsDropped: number;
        batchesPerSecond: number;
        batchWindowsMean: number;
        batchWindowsP50: number;
        batchWindowsP90: number;
        batchStreamsMean: number;
        batchModelsMean: number;
        batchMsMean: number;
        framesLate: number;
        framesMissing: number;
        eventLoopLagP99Ms: number;
        eventLoopUtilization: number;
      }
    | undefined;
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
        /** Gateway CPU (all threads) per ready socket and second of the hold, µs. */
        cpuMicrosPerSocketSecond: number;
        /** Redis CPU over the hold (INFO cpu; Redis may serve other work too), when reachable. */
        redisCpuSecondsDuringHold: number | undefined;
        /** (gateway + Redis CPU) per ready socket and second of the hold, µs. */
        cpuWithRedisMicrosPerSocketSecond: number | undefined;
      }
    | undefined;
  generator: { processes: number; cpuPercentOfOneCore: number; rssMiB: number };
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
  /** --verify: where the replayed data came from and how the models were prepared. */
  replay: { source: ReplaySource['kind']; subjects: number; models: ModelPreparation } | undefined;
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
  if (options.peer) {
    // Bounded like the rest: the peer run's own steps time out; this is the backstop.
    setTimeout(() => {
      say('load: the peer run exceeded 40 minutes; exiting');
      process.exit(3);
    }, 40 * 60_000).unref();
    await runPeer(options);
    process.exit(0);
  }
  // Bounded: whatever happens, the run ends (account preparation gets a second per account).
  const accounts = Math.ceil(options.connections / options.perUser);
  const perRun = options.ramp + options.settle + options.duration + 60;
  // Models are trained once per account (seconds each, one after another in the gateway's worker).
  const budgetSeconds = accounts * (options.verify ? 20 : 1) + perRun * (options.baseline ? 2 : 1) + 120;
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
      baseline = await measure({ ...options, verify: false }, server.url, sessions, 'baseline', false, undefined);
    } finally {
      await server.stop();
    }
  }

  let spawned: SpawnedGateway | undefined;
  let url = options.url;
  if (options.spawn) {
    say('starting a gateway child process…');
    spawned = await spawnLoadGateway(options.perUser, options.verify);
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
    let replay: LoadSummary['replay'];
    let plan: ReplayPlan | undefined;
    if (options.verify) {
      const source = await replaySource(options.data, options.rate, options.channels);
      say(`models: every account enrolled once from ${source.kind} data (${source.subjects.length} subjects)…`);
      const models = await ensureModels({
        baseUrl: url,
        sessions,
        source,
        onProgress: (done, total) => (done % 25 === 0 || done === total) && say(`  ${done}/${total} accounts have a model`),
        relogin: async (index) => (await freshLogin({ baseUrl: url, key, file: options.accountsFile }, index)).accessToken,
      });
      if (models.failed > 0) throw new Error(`${models.failed} enrolments failed; see the gateway log`);
      replay = { source: source.kind, subjects: source.subjects.length, models };
      plan = { source, firstAccount: 0 };
    }
    const vigil = await measure(options, url, sessions, 'vigil', options.spawn, plan);
    await rememberRefreshTokens(options.accountsFile, key, lastSessions ?? sessions);
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
      replay,
      vigil,
      baseline,
    };
    process.stdout.write(options.json ? `${JSON.stringify(summary, null, 2)}\n` : report(summary));
  } finally {
    await spawned?.stop();
  }
  process.exit(0);
}

/** Token pairs as the last run left them (refresh tokens rotate in the generating processes). */
let lastSessions: TokenPair[] | undefined;

/** One run: open the sockets, settle, hold and measure, close. */
async function measure(
  options: LoadOptions,
  url: string,
  sessions: TokenPair[],
  kind: 'vigil' | 'baseline',
  spawned: boolean,
  replay: ReplayPlan | undefined,
): Promise<Measurement> {
  const before = await settledSample(url, 3);
  const driver: LoadDriver =
    options.processes > 1
      ? new ProcessDriver(options.processes, options, url, sessions, replay !== undefined)
      : new LocalDriver(options, url, sessions, replay);
  const samples: ServerSample[] = [];
  let previous = { at: performance.now(), sent: 0, acked: 0, verdicts: 0 };
  const startedAt = performance.now();
  const progress = setInterval(() => {
    void sampleServer(url).then((sample) => {
      if (sample) samples.push(sample);
      const now = performance.now();
      const seconds = (now - previous.at) / 1000;
      const counters = driver.counters();
      const rate = (n: number, was: number) => Math.round((n - was) / seconds);
      const line =
        `${kind} t=${Math.round((now - startedAt) / 1000)}s open=${driver.openNow()}/${options.connections} failed=${driver.connectFailures()} ` +
        `sent=${rate(counters.framesSent, previous.sent)}/s acked=${rate(counters.framesAcked, previous.acked)}/s`;
      const ack = percentiles(driver.histogram('recentAckLatency'));
      const verdicts = replay
        ? ` verdicts=${rate(counters.verdicts, previous.verdicts)}/s`
        : ` ack p50=${ack.p50}ms p99=${ack.p99}ms`;
      previous = { at: now, sent: counters.framesSent, acked: counters.framesAcked, verdicts: counters.verdicts };
      say(
        line +
          verdicts +
          ` closes=${JSON.stringify(driver.closes())}` +
          (sample
            ? ` server rss=${Math.round(sample.rssBytes / MiB)}MiB cpu=${cpuPercent(samples)}% sockets=${sample.readySockets}`
            : ''),
      );
    });
  }, 1_000);

  say(
    `${kind}: opening ${options.connections} sockets${options.ramp ? ` over ${options.ramp} s` : ''} from ${driver.processes} process(es)…`,
  );
  await driver.connect();
  const connectSeconds = driver.connectSeconds();
  if (options.settle > 0) await sleep(options.settle * 1000);

  // The measured window: every socket is open (or failed); hold for --duration.
  await driver.hold();
  const holdStart = {
    at: performance.now(),
    wall: Date.now(),
    counters: { ...driver.counters() },
    usage: driver.usage(),
    server: await sampleServer(url),
    redisCpu: await redisCpuSeconds(),
  };
  await sleep(options.duration * 1000);
  const holdEnd = {
    at: performance.now(),
    counters: driver.counters(),
    usage: driver.usage(),
    server: await sampleServer(url),
    redisCpu: await redisCpuSeconds(),
  };
  await driver.stop();
  clearInterval(progress);
  const closes = { ...driver.closes() };
  const holdSeconds = (holdEnd.at - holdStart.at) / 1000;
  const inHold = samples.filter((sample) => sample.at >= holdStart.wall);
  if (holdEnd.server) inHold.push(holdEnd.server);
  const histograms = {
    connect: percentiles(driver.histogram('connectLatency')),
    ack: percentiles(driver.histogram('ackLatency')),
    verdict: percentiles(driver.histogram('verdictLatency')),
    endToEnd: percentiles(driver.histogram('verdictEndToEnd')),
    sendLag: percentiles(driver.histogram('sendLag')),
  };
  const readyCount = driver.readyCount();
  await driver.close();
  lastSessions = driver.sessions();

  const delta = (
    key: 'framesSent' | 'framesAcked' | 'samplesSent' | 'verdicts' | 'framesSkipped' | 'genuine' | 'uncertain' | 'impostor',
  ) => holdEnd.counters[key] - holdStart.counters[key];
  const perSecond = (count: number) => Math.round(count / holdSeconds);
  const errors: Record<string, number> = {};
  for (const [code, n] of Object.entries(holdEnd.counters.errors)) {
    const d = n - (holdStart.counters.errors[code] ?? 0);
    if (d > 0) errors[code] = d;
  }
  const generatorSeconds = (holdEnd.usage.cpuSeconds - holdStart.usage.cpuSeconds) / holdSeconds;
  return {
    target: { url, kind, spawned },
    connect: {
      requested: options.connections,
      ready: readyCount,
      failed: driver.connectFailures(),
      seconds: round(connectSeconds, 2),
      perSecond: Math.round(readyCount / Math.max(connectSeconds, 0.001)),
      latencyMs: histograms.connect,
    },
    streaming: {
      seconds: round(holdSeconds, 2),
      effectiveRateHz: (Math.max(1, Math.round((options.rate * options.frameMs) / 1000)) * 1000) / options.frameMs,
      framesSent: delta('framesSent'),
      framesAcked: delta('framesAcked'),
      framesSentPerSecond: perSecond(delta('framesSent')),
      framesAckedPerSecond: perSecond(delta('framesAcked')),
      samplesPerSecond: perSecond(delta('samplesSent')),
      ackLatencyMs: histograms.ack,
      verdicts: delta('verdicts'),
      verdictLatencyMs: histograms.verdict,
      verdictEndToEndMs: histograms.endToEnd,
      verdictsPerSecond: perSecond(delta('verdicts')),
      decisions: { genuine: delta('genuine'), uncertain: delta('uncertain'), impostor: delta('impostor') },
      errors,
      framesSkipped: delta('framesSkipped'),
      sendLagMs: histograms.sendLag,
    },
    continuous:
      replay && holdStart.server && holdEnd.server
        ? continuousFigures(holdStart.server.cv, holdEnd.server.cv, inHold, holdSeconds)
        : undefined,
    closes,
    server: serverFigures(
      before,
      holdStart.server,
      holdEnd.server,
      inHold,
      samples,
      readyCount,
      redisDelta(holdStart.redisCpu, holdEnd.redisCpu),
    ),
    generator: {
      processes: driver.processes,
      cpuPercentOfOneCore: Math.round(generatorSeconds * 100),
      rssMiB: Math.round(holdEnd.usage.rssBytes / MiB),
    },
  };
}

/** Percentile of the windows-per-batch histogram between two samples (upper bound of the bucket). */
function bucketPercentile(start: ContinuousSample, end: ContinuousSample, q: number): number {
  const counts = end.batchWindowsBuckets.map(([le, n], i) => [le, n - (start.batchWindowsBuckets[i]?.[1] ?? 0)] as const);
  const total = counts.at(-1)?.[1] ?? 0;
  if (total === 0) return 0;
  const found = counts.find(([, n]) => n >= q * total);
  return found ? found[0] : Number.POSITIVE_INFINITY;
}

function continuousFigures(
  start: ContinuousSample,
  end: ContinuousSample,
  hold: readonly ServerSample[],
  seconds: number,
): Measurement['continuous'] {
  const batches = end.batches - start.batches;
  const per = (value: number) => (batches > 0 ? round(value / batches, 1) : 0);
  const lags = hold.map((s) => s.cv.eventLoopLagP99Seconds).sort((a, b) => a - b);
  const utilization = hold.map((s) => s.cv.eventLoopUtilization).filter(Number.isFinite);
  return {
    windowsScoredPerSecond: Math.round((end.windowsScored - start.windowsScored) / seconds),
    windowsFailed: end.windowsFailed - start.windowsFailed,
    windowsDropped: end.windowsDropped - start.windowsDropped,
    batchesPerSecond: round(batches / seconds, 1),
    batchWindowsMean: per(end.batchWindowsSum - start.batchWindowsSum),
    batchWindowsP50: bucketPercentile(start, end, 0.5),
    batchWindowsP90: bucketPercentile(start, end, 0.9),
    batchStreamsMean: per(end.batchStreamsSum - start.batchStreamsSum),
    batchModelsMean: per(end.batchModelsSum - start.batchModelsSum),
    batchMsMean: batches > 0 ? round(((end.batchSecondsSum - start.batchSecondsSum) * 1000) / batches, 2) : 0,
    framesLate: end.framesLate - start.framesLate,
    framesMissing: end.missingFrames - start.missingFrames,
    eventLoopLagP99Ms: round((lags[Math.floor(lags.length / 2)] ?? 0) * 1000, 1),
    eventLoopUtilization: utilization.length ? round(utilization.reduce((a, b) => a + b, 0) / utilization.length, 2) : Number.NaN,
  };
}

async function spawnBaseline(): Promise<{ url: string; stop(): Promise<void> }> {
  const script = fileURLToPath(new URL('./baseline-stream-server.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const killChild = () => child.kill('SIGTERM');
  process.once('exit', killChild);
  const port = await new Promise<number>((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
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
  redisCpuSeconds: number | undefined,
): Measurement['server'] {
  if (!before || !start || !end || hold.length === 0) return undefined;
  const cpuSeconds = end.cpuSeconds - start.cpuSeconds;
  // Settled RSS with the sockets: the lowest sample of the hold's last five seconds.
  const lastFive = hold.filter((sample) => sample.at >= end.at - 5_500);
  const settled = Math.min(...lastFive.map((sample) => sample.rssBytes));
  const seconds = (end.at - start.at) / 1000;
  const perSocketSecond = (cpu: number) => (sockets > 0 ? round((cpu * 1e6) / (sockets * seconds), 1) : 0);
  return {
    rssBeforeMiB: round(before.rssBytes / MiB),
    rssWithSocketsMiB: round(settled / MiB),
    rssPeakMiB: round(Math.max(...all.map((sample) => sample.rssBytes), end.rssBytes) / MiB),
    rssPerSocketKiB: sockets > 0 ? round((settled - before.rssBytes) / 1024 / sockets, 2) : 0,
    cpuSecondsDuringHold: round(cpuSeconds, 2),
    cpuPercentOfOneCore: Math.round((cpuSeconds / ((end.at - start.at) / 1000)) * 100),
    cpuMicrosPerSocketSecond: perSocketSecond(cpuSeconds),
    redisCpuSecondsDuringHold: redisCpuSeconds === undefined ? undefined : round(redisCpuSeconds, 2),
    cpuWithRedisMicrosPerSocketSecond: redisCpuSeconds === undefined ? undefined : perSocketSecond(cpuSeconds + redisCpuSeconds),
  };
}

function redisDelta(start: number | undefined, end: number | undefined): number | undefined {
  return start === undefined || end === undefined ? undefined : end - start;
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
    `  verdicts    ${m.streaming.verdicts} (${m.streaming.verdictsPerSecond}/s)${m.streaming.verdicts ? `; server latency ${p(m.streaming.verdictLatencyMs)}` : ''}`,
    ...(m.continuous
      ? [
          `  end to end  ${p(m.streaming.verdictEndToEndMs)} (frame completing the window sent → verdict received)`,
          `  decisions   genuine ${m.streaming.decisions.genuine}, uncertain ${m.streaming.decisions.uncertain}, impostor ${m.streaming.decisions.impostor}; errors ${JSON.stringify(m.streaming.errors)}`,
          `  scoring     ${m.continuous.windowsScoredPerSecond} windows/s in ${m.continuous.batchesPerSecond} batches/s: windows per batch mean ${m.continuous.batchWindowsMean} (p50 ≤ ${m.continuous.batchWindowsP50}, p90 ≤ ${m.continuous.batchWindowsP90}), ` +
            `sockets per batch ${m.continuous.batchStreamsMean}, models per batch ${m.continuous.batchModelsMean}, batch round trip ${m.continuous.batchMsMean} ms; failed ${m.continuous.windowsFailed}, dropped ${m.continuous.windowsDropped}`,
          `  frames      late ${m.continuous.framesLate}, missing (gaps) ${m.continuous.framesMissing}, not sent by the generator ${m.streaming.framesSkipped}; generator ticker lag ${p(m.streaming.sendLagMs)}`,
          `  event loop  utilization ${m.continuous.eventLoopUtilization}, lag p99 (median of samples) ${m.continuous.eventLoopLagP99Ms} ms`,
        ]
      : []),
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
    ...(m.server
      ? [
          `  per socket  gateway CPU ${m.server.cpuMicrosPerSocketSecond} µs per socket-second (all threads)` +
            (m.server.redisCpuSecondsDuringHold === undefined
              ? '; Redis CPU not read'
              : `; Redis CPU ${m.server.redisCpuSecondsDuringHold} s (INFO cpu, whole server: other work on it counts too); ` +
                `gateway + Redis ${m.server.cpuWithRedisMicrosPerSocketSecond} µs per socket-second`),
        ]
      : []),
    `  generator   ${m.generator.processes} process(es), CPU ${m.generator.cpuPercentOfOneCore}% of one core, RSS ${m.generator.rssMiB} MiB (same machine)`,
  ];
  return [
    '',
    `Vigil realtime load — ${o.connections} sockets, ${o.rate ? `${summary.vigil.streaming.effectiveRateHz} Hz × ${o.channels} ch in ${o.frameMs} ms frames` : 'idle'}, ` +
      `${o.ackEvery ? `ack every ${o.ackEvery === 1 ? '' : `${o.ackEvery}th `}frame` : 'no acks'}, ${o.duration} s measured after ${o.settle} s settle`,
    `machine: ${summary.machine.cpus} × ${summary.machine.cpu}, ${summary.machine.memoryGiB} GiB, Linux ${summary.machine.kernel}; Node ${summary.versions.node}; uWS ${summary.versions.uWebSockets}`,
    `load average: ${summary.machine.loadAverageAtStart.join(' / ')} at start, ${summary.machine.loadAverageAtEnd.join(' / ')} at end (1/5/15 min; other work on the machine shows here)`,
    ...(summary.replay
      ? [
          `replay: ${summary.replay.source} recordings of ${summary.replay.subjects} subjects; models: ${summary.replay.models.existing} existing, ${summary.replay.models.enrolled} enrolled now (${summary.replay.models.seconds} s)`,
        ]
      : []),
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
