import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { SOAK_USAGE, SoakOptionError, parseSoakOptions, type SoakOptions } from './soak-options.ts';
import { formatRow, ROW_HEADER, sampleGateway, summarise, type SoakRow } from './soak-report.ts';
import { spawnSoakGateway, type SoakGateway } from './soak-gateway.ts';
import { makeAccounts, SoakTraffic } from './soak-traffic.ts';

/**
 * `npm run soak -- --minutes M [--sockets N] …` (options: scripts/soak/soak-options.ts)
 *
 * Holds thousands of streaming sockets and a steady stream of HTTP logins (each ending the
 * account's previous session) and refresh rotations against one gateway for M minutes, and
 * prints a row every --sample-seconds: sockets, frames and ack latency, HTTP rate and latency,
 * the gateway's CPU, RSS, heap and event-loop delay (monitorEventLoopDelay, through its /metrics),
 * the generator's own event-loop delay, Redis memory. At the end: RSS and heap growth fitted over
 * the run after warm-up, so growth is a number with a slope, not an impression. Loopback only;
 * bounded: the process exits when the run is over however it went.
 */

const say = (line: string) => process.stderr.write(`${line}\n`);
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** Keys under the soak gateway's prefix (sessions, refresh families, limits…): what the run leaves in Redis. */
async function redisKeys(redis: Redis | undefined): Promise<number | undefined> {
  if (!redis) return undefined;
  try {
    let cursor = '0';
    let keys = 0;
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', 'vigil:soak:*', 'COUNT', 2_000);
      cursor = next;
      keys += batch.length;
    } while (cursor !== '0');
    return keys;
  } catch {
    return undefined;
  }
}

async function run(options: SoakOptions): Promise<void> {
  const budgetSeconds = options.minutes * 60 + options.sockets / 20 + 600;
  const hardStop = setTimeout(() => {
    say(`soak: exceeded its time budget of ${Math.round(budgetSeconds)} s; exiting`);
    process.exit(3);
  }, budgetSeconds * 1000);
  hardStop.unref();

  let gateway: SoakGateway | undefined;
  let url = options.url;
  if (!url) {
    say('starting a gateway child process…');
    gateway = await spawnSoakGateway(options.perUser);
    url = gateway.url;
    say(`gateway at ${url} (pid ${gateway.child.pid})`);
  }
  // The spawned gateway's Redis (the local one unless REDIS_URL says otherwise); unknown for --url.
  const redis = options.url
    ? undefined
    : new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0', { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis?.connect().catch(() => undefined);
  const loadAtStart = loadavg().map((l) => Math.round(l * 100) / 100);
  const generatorLoop = monitorEventLoopDelay({ resolution: 10 });
  generatorLoop.enable();
  const traffic: { value: SoakTraffic | undefined } = { value: undefined };
  try {
    const accountCount = Math.ceil(options.sockets / options.perUser);
    say(`making ${accountCount} accounts (sign-up and two logins each)…`);
    const accounts = await makeAccounts(url, accountCount, (done) => {
      if (done % 100 === 0) say(`  ${done}/${accountCount}`);
    });
    // Baseline of the same run: the gateway idle (accounts made, no sockets, no HTTP) for one interval.
    const idleFrom = await sampleGateway(url);
    const idleFromAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, options.sampleSeconds * 1000));
    const idleTo = await sampleGateway(url);
    const idle = {
      rssMiB: Math.round(idleTo.rssMiB * 10) / 10,
      heapUsedMiB: Math.round(idleTo.heapUsedMiB * 10) / 10,
      cpuPercent: Math.round(((idleTo.cpuSeconds - idleFrom.cpuSeconds) / ((Date.now() - idleFromAt) / 1000)) * 1000) / 10,
      loopDelayP50Ms: Math.round(idleTo.loopDelayP50Ms * 10) / 10,
      loopDelayP99Ms: Math.round(idleTo.loopDelayP99Ms * 10) / 10,
      loopDelayMaxMs: Math.round(idleTo.loopDelayMaxMs * 10) / 10,
    };
    say(
      `idle gateway (baseline): RSS ${idle.rssMiB} MiB, heap ${idle.heapUsedMiB} MiB, CPU ${idle.cpuPercent} %, event-loop delay p50/p99/max ${idle.loopDelayP50Ms}/${idle.loopDelayP99Ms}/${idle.loopDelayMaxMs} ms`,
    );
    traffic.value = new SoakTraffic(url, accounts, options);
    say(`opening ${options.sockets} sockets…`);
    await traffic.value.open((ready) => {
      if (ready % 500 === 0 && ready > 0) say(`  ${ready} ready`);
    });
    traffic.value.start();
    traffic.value.take();
    generatorLoop.reset();

    const rows: SoakRow[] = [];
    const started = Date.now();
    let previous = await sampleGateway(url);
    let previousAt = Date.now();
    if (!options.json) say(ROW_HEADER);
    while (Date.now() - started < options.minutes * 60_000) {
      await new Promise((resolve) => setTimeout(resolve, options.sampleSeconds * 1000));
      const gatewaySample = await sampleGateway(url);
      const now = Date.now();
      const row: SoakRow = {
        t: Math.round((now - started) / 1000),
        gateway: gatewaySample,
        cpuPercent: ((gatewaySample.cpuSeconds - previous.cpuSeconds) / ((now - previousAt) / 1000)) * 100,
        traffic: traffic.value.take(),
        generatorLoopP99Ms: generatorLoop.percentile(99) / 1e6,
        redisKeys: await redisKeys(redis),
      };
      generatorLoop.reset();
      previous = gatewaySample;
      previousAt = now;
      rows.push(row);
      if (!options.json) say(formatRow(row, options.sampleSeconds));
    }
    const summary = summarise(rows, options.warmupSeconds);
    const report = {
      tool: 'npm run soak (scripts/soak/soak.ts)',
      at: new Date().toISOString(),
      versions: { node: process.version, vigil: version },
      machine: {
        cpus: cpus().length,
        cpu: cpus()[0]?.model ?? 'unknown',
        memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
        kernel: release(),
        loadAverageAtStart: loadAtStart,
        loadAverageAtEnd: loadavg().map((l) => Math.round(l * 100) / 100),
      },
      options,
      idle,
      summary,
      rows,
    };
    if (options.json) process.stdout.write(`${JSON.stringify(report, null, 1)}\n`);
    else {
      say('');
      say(`summary after ${summary.minutes} min (growth fitted from t = ${options.warmupSeconds} s on):`);
      say(
        `  idle baseline: RSS ${idle.rssMiB} MiB, heap ${idle.heapUsedMiB} MiB, CPU ${idle.cpuPercent} %, event-loop delay p99 ${idle.loopDelayP99Ms} ms`,
      );
      say(
        `  RSS  ${summary.rss.first} → ${summary.rss.last} MiB (min ${summary.rss.min}, max ${summary.rss.max}), ${summary.rss.slopePerMinute} MiB/min`,
      );
      say(
        `  heap ${summary.heap.first} → ${summary.heap.last} MiB (min ${summary.heap.min}, max ${summary.heap.max}), ${summary.heap.slopePerMinute} MiB/min`,
      );
      say(
        `  event-loop delay p99 median ${summary.loopDelayP99Ms.median} ms (worst interval ${summary.loopDelayP99Ms.max} ms, max ${summary.loopDelayMaxMs} ms); gateway CPU median ${summary.cpuPercentMedian} % of a core`,
      );
      say(
        `  ${summary.framesPerSecond} frames/s, ack p99 median ${summary.ackP99MsMedian} ms; closes ${JSON.stringify(summary.closes)}; reconnects ${summary.reconnects}`,
      );
      say(`  HTTP ${JSON.stringify(summary.http)}`);
      say(`  Redis keys of the run ${summary.redisKeys.first} → ${summary.redisKeys.last}`);
      say(
        `  machine: ${report.machine.cpus} × ${report.machine.cpu}, load average ${loadAtStart.join(' / ')} → ${report.machine.loadAverageAtEnd.join(' / ')}`,
      );
    }
  } finally {
    generatorLoop.disable();
    await traffic.value?.stop();
    redis?.disconnect();
    await gateway?.stop();
  }
}

async function main(): Promise<void> {
  let options: SoakOptions;
  try {
    options = parseSoakOptions(process.argv.slice(2));
  } catch (err) {
    if (err instanceof SoakOptionError) {
      process.stderr.write(`soak: ${err.message}\n\n${SOAK_USAGE}\n`);
      process.exit(2);
    }
    throw err;
  }
  await run(options);
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`soak: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
