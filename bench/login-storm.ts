import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/config.ts';
import type { Config } from '../src/config/schema.ts';
import { generateSigningJwk } from '../src/tokens/key-ring.ts';
import { spawnChildGateway, TOOLS_METRICS_TOKEN, type ChildGateway } from '../scripts/child-gateway.ts';
import { processSample, startRunRedis, type PeerProcess } from '../scripts/load/peer-servers.ts';
import { sampleServer } from '../scripts/load/server-stats.ts';
import { configEnv } from '../test/support/config.ts';
import { dropTestData } from '../test/support/gateway.ts';
import { startNode } from '../test/sessions/support.ts';
import { BENCH_INTROSPECTION_TOKEN, loadAverage, packageVersion } from './bench-env.ts';
import { bcryptConcurrency } from '../src/identity/credentials/password-hasher.ts';
import { median, parseStormOptions, ratio, StormOptionError, type StormOptions } from './login-storm-options.ts';
import type { StormClientInput, StormClientResult } from './storm-client.ts';

/**
 * `npm run bench:storm`: the login storm. Password logins per second against the bcrypt bound
 * measured in the same run, and what the storm does to introspection and socket-connect latency.
 *
 * One gateway child process (production mode, its own database, a Redis started for this run so
 * Redis CPU is this run's only; with --compare a second one with other settings on the same
 * stores), K accounts signed up through the API. Each round:
 *  1. the bound: the gateway's own PasswordHasher, in a process of its own with the gateway's
 *     environment (same cost, same libuv pool size), verifying as fast as the whole pool allows,
 *     at the start of the round and again at its end (the mean is the round's bound);
 *  2. per gateway, in alternating order: the quiet phase, the probes alone (steady-rate
 *     introspection of a seen token and of first-seen tokens, authenticated WebSocket connects
 *     with first-seen tokens), then the storm: C clients logging in back to back, the same probes
 *     beside them.
 * Server CPU (all threads) from /proc between the client's `measuring` and `stopped`; medians of
 * the rounds. Options: bench/login-storm-options.ts.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSX = ['--import', 'tsx'];

/** Limits raised for the benchmark: one loopback address makes every request. */
const BENCH_LIMITS: Record<string, string> = {
  VIGIL_LOGIN_PER_IP: '1000000',
  VIGIL_LOGIN_PER_IDENTIFIER: '1000000',
  VIGIL_SIGNUP_PER_IP_HOURLY: '1000000',
  VIGIL_INTROSPECTION_PER_SECOND: '10000000',
  VIGIL_WS_MAX_CONNECTIONS_PER_USER: '1000',
};

interface PhaseFigures {
  client: StormClientResult;
  seconds: number;
  gatewayCpuMsPerSecond: number;
  redisCpuMsPerSecond: number;
  mongoCpuMsPerSecond: number;
  clientCpuMsPerSecond: number;
  rssMb: number;
  /** The gateway's event-loop delay p99 over the window (prom-client, reset by the scrape at its start). */
  loopDelayP99Ms: number;
}

interface Bound {
  verifiesPerSecond: number;
  cpuMsPerSecond: number;
  poolSize: number;
  cores: number;
}

interface Round {
  loadAverage: string;
  /** Measured before the round's first quiet phase and after its last storm. */
  bounds: [Bound, Bound];
  /** Per target, in `targets` order. */
  byTarget: Array<{ quiet: PhaseFigures; storm: PhaseFigures }>;
}

interface Target {
  label: string;
  env: Record<string, string>;
  gateway?: ChildGateway;
}

let options: StormOptions;
try {
  options = parseStormOptions(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof StormOptionError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(2);
}
const say = (line: string) => process.stdout.write(`${line}\n`);

const work = mkdtempSync(join(tmpdir(), 'vigil-storm-'));
const redis: PeerProcess = await startRunRedis();
const id = randomBytes(4).toString('hex');
const signingKey = await generateSigningJwk();
const config: Config = loadConfig({
  ...process.env,
  NODE_ENV: 'production',
  LOG_LEVEL: 'info',
  PORT: '0',
  MONGO_DB: `vigil_storm_${id}`,
  REDIS_URL: `redis://127.0.0.1:${redis.port}/0`,
  REDIS_PREFIX: `vigil:storm:${id}:`,
  VIGIL_BIOMETRIC_KEYS: `bench:${randomBytes(32).toString('base64')}`,
  VIGIL_JWT_PRIVATE_KEYS: JSON.stringify({ keys: [signingKey.privateJwk] }),
  VIGIL_INTROSPECTION_TOKEN: BENCH_INTROSPECTION_TOKEN,
  VIGIL_METRICS_TOKEN: TOOLS_METRICS_TOKEN,
  VIGIL_BCRYPT_COST: String(options.cost),
  // The socket channel alone: no models, no scoring threads competing for the cores.
  VIGIL_CV_ENABLED: 'false',
  ...BENCH_LIMITS,
});
const mongoPid = listenerPid(new URL(config.MONGO_URL).port || '27017');
/** The gateway as configured, and with --compare a second one with those settings, measured in turn each round. */
const targets: Target[] = [
  { label: 'default', env: {} },
  ...(options.compare ? [{ label: options.compare, env: parseCompare(options.compare) }] : []),
];

try {
  for (const target of targets) target.gateway = await spawnChildGateway({ ...configEnv(config), ...target.env });
  const url = targets[0]!.gateway!.url;
  say(
    `gateways ${targets.map((t) => `${t.label} ${t.gateway!.url}`).join(', ')}; Redis :${redis.port} for this run; signing up ${options.accounts} accounts…`,
  );
  const accounts = await signUp(url, options.accounts);
  const accountsFile = join(work, 'accounts.json');
  writeFileSync(accountsFile, JSON.stringify(accounts.map((a) => [a.username, a.password])));

  // Phase windows: warm-up + measured + a margin for the client's start and stop.
  const phaseSeconds = (seconds: number) => options.warmup + seconds + 3;
  const perPhase = (seconds: number) => ({
    fresh: options.freshRate * phaseSeconds(seconds),
    connect: options.connectRate * phaseSeconds(seconds),
  });
  const warm = perPhase(5);
  const quiet = perPhase(options.quietSeconds);
  const storm = perPhase(options.seconds);
  const needed =
    targets.length * (warm.fresh + warm.connect + options.rounds * (quiet.fresh + quiet.connect + storm.fresh + storm.connect)) +
    1;
  say(`making ${needed} sessions through the session service (first-seen tokens for the probes)…`);
  const tokens = await makeTokens(
    config,
    accounts.map((a) => a.id),
    needed,
  );
  const seenToken = tokens.pop()!;
  const take = (count: number) => tokens.splice(0, count);

  const runPhase = async (
    target: Target,
    name: string,
    clients: number,
    seconds: number,
    slice: { fresh: number; connect: number },
  ) => {
    const freshTokensFile = join(work, `${name}-fresh.json`);
    const connectTokensFile = join(work, `${name}-connect.json`);
    writeFileSync(freshTokensFile, JSON.stringify(take(slice.fresh)));
    writeFileSync(connectTokensFile, JSON.stringify(take(slice.connect)));
    return measurePhase(
      {
        url: target.gateway!.url,
        warmupMs: options.warmup * 1000,
        durationMs: seconds * 1000,
        clients,
        accountsFile,
        introspectRate: options.introspectRate,
        seenToken,
        freshRate: options.freshRate,
        freshTokensFile,
        connectRate: options.connectRate,
        connectTokensFile,
      },
      target.gateway!.child.pid!,
    );
  };

  for (const [i, target] of targets.entries()) {
    say(`warming ${target.label} up (5 s storm with probes, off the books)…`);
    await runPhase(target, `warm-${i}`, options.clients, 5, warm);
  }

  const rounds: Round[] = [];
  for (let r = 1; r <= options.rounds; r++) {
    const loadAvg = loadAverage();
    const before = await measureBound(config);
    const byTarget = new Array<Round['byTarget'][number]>(targets.length);
    // Alternating order, so neither gateway always runs on the machine the other left behind.
    const order = targets.map((_, i) => i);
    if (r % 2 === 0) order.reverse();
    for (const i of order) {
      const target = targets[i]!;
      const quietPhase = await runPhase(target, `quiet-${r}-${i}`, 0, options.quietSeconds, quiet);
      const stormPhase = await runPhase(target, `storm-${r}-${i}`, options.clients, options.seconds, storm);
      byTarget[i] = { quiet: quietPhase, storm: stormPhase };
    }
    const after = await measureBound(config);
    const round: Round = { loadAverage: loadAvg, bounds: [before, after], byTarget };
    rounds.push(round);
    for (const [i, target] of targets.entries()) {
      const { quiet: q, storm: st } = byTarget[i]!;
      const c = st.client;
      say(
        `round ${r}/${options.rounds} ${target.label}: bound ${boundOf(round).toFixed(1)}/s, logins ${(c.logins / c.seconds).toFixed(1)}/s ` +
          `(${ratio(c.logins / c.seconds, boundOf(round))} of it), login p99 ${c.login.p99} ms; ` +
          `introspect p99 ${q.client.introspect.latency.p99} → ${c.introspect.latency.p99} ms, ` +
          `first-seen ${q.client.fresh.latency.p99} → ${c.fresh.latency.p99} ms, ` +
          `connect ${q.client.connect.latency.p99} → ${c.connect.latency.p99} ms; ` +
          `gateway ${Math.round(st.gatewayCpuMsPerSecond)} ms/s, Redis ${Math.round(st.redisCpuMsPerSecond)} ms/s, RSS ${Math.round(st.rssMb)} MB`,
      );
      for (const phase of [q, st]) {
        const failures = [
          phase.client.loginFailureSample,
          phase.client.introspect.failureSample,
          phase.client.fresh.failureSample,
          phase.client.connect.failureSample,
        ].filter(Boolean);
        if (failures.length > 0) say(`  failures: ${failures.join(' | ')}`);
      }
    }
  }

  const report = renderReport(rounds);
  say(`\n${report}`);
  if (options.output !== '-') writeSection(join(ROOT, options.output), report);
} finally {
  for (const target of targets) await target.gateway?.stop();
  await dropTestData(config).catch(() => {});
  await redis.stop();
  rmSync(work, { recursive: true, force: true });
}

/** `NAME=VALUE[,NAME=VALUE]` (validated by parseStormOptions) as environment entries. */
function parseCompare(spec: string): Record<string, string> {
  return Object.fromEntries(spec.split(',').map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
}

/** The round's bcrypt bound: the mean of the measurements before and after its storms (the machine drifts). */
function boundOf(round: Round): number {
  return (round.bounds[0].verifiesPerSecond + round.bounds[1].verifiesPerSecond) / 2;
}

/** The pid listening on a loopback TCP port (ss), to read that server's CPU; undefined if not visible. */
function listenerPid(port: string): number | undefined {
  try {
    const out = execFileSync('ss', ['-Hltnp', `sport = :${port}`]).toString();
    const pid = /pid=(\d+)/.exec(out)?.[1];
    return pid ? Number(pid) : undefined;
  } catch {
    return undefined;
  }
}

/** Sign-ups through the API, 4 at a time (each is a bcrypt hash on the gateway's cores). */
async function signUp(url: string, count: number): Promise<Array<{ id: string; username: string; password: string }>> {
  const accounts = new Array<{ id: string; username: string; password: string }>(count);
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const index = next++;
      const username = `storm-${index}`;
      const password = randomBytes(12).toString('base64url');
      const res = await fetch(`${url}/v1/accounts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password }),
      });
      const body = (await res.json()) as { account?: { id: string; status: string } };
      if (res.status !== 201 || body.account?.status !== 'active')
        throw new Error(`sign-up of ${username} answered ${res.status}: ${JSON.stringify(body)}`);
      accounts[index] = { id: body.account.id, username, password };
    }
  };
  await Promise.all(Array.from({ length: 4 }, lane));
  return accounts;
}

/** Live sessions of the accounts, made through a session core over the same stores (a login each would be bcrypt). */
async function makeTokens(config: Config, userIds: string[], count: number): Promise<string[]> {
  const node = await startNode(config);
  try {
    const tokens = new Array<string>(count);
    let next = 0;
    const lane = async () => {
      while (next < count) {
        const index = next++;
        const { tokens: pair } = await node.core.sessions.start({ userId: userIds[index % userIds.length]! });
        tokens[index] = pair.accessToken;
      }
    };
    await Promise.all(Array.from({ length: 16 }, lane));
    return tokens;
  } finally {
    await node.close();
  }
}

function cpuMs(pid: number | undefined): number {
  return pid === undefined ? Number.NaN : processSample(pid).cpuSeconds * 1000;
}

async function measureBound(config: Config): Promise<Bound> {
  const input = { cost: config.VIGIL_BCRYPT_COST, warmupMs: 1000, durationMs: options.boundSeconds * 1000 };
  const output = await runChild(['bench/bcrypt-bound.ts', JSON.stringify(input)], () => {});
  return JSON.parse(output.trim().split('\n').pop()!) as Bound;
}

/** Runs a node child (tsx) to its end; `onLine` sees each stdout line as it comes. Returns the whole stdout. */
function runChild(args: string[], onLine: (line: string, pid: number) => void): Promise<string> {
  const child = spawn(process.execPath, [...TSX, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  let pending = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    pending += chunk.toString();
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      onLine(pending.slice(0, newline), child.pid!);
      pending = pending.slice(newline + 1);
    }
  });
  return new Promise((resolve, reject) =>
    child.once('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`${args[0]} exited with ${code}`)))),
  );
}

async function measurePhase(input: StormClientInput, gatewayPid: number): Promise<PhaseFigures> {
  const samples: Array<{ at: number; gateway: number; redis: number; mongo: number; client: number }> = [];
  const scrapes: Array<Promise<Awaited<ReturnType<typeof sampleServer>>>> = [];
  const output = await runChild(['bench/storm-client.ts', JSON.stringify(input)], (line, clientPid) => {
    if (line !== 'measuring' && line !== 'stopped') return;
    samples.push({
      at: performance.now(),
      gateway: cpuMs(gatewayPid),
      redis: cpuMs(redis.pid),
      mongo: cpuMs(mongoPid),
      client: cpuMs(clientPid),
    });
    // The scrape at the start resets prom-client's event-loop delay histogram; the one at the end reads the window.
    scrapes.push(sampleServer(input.url));
  });
  const [start, stop] = samples;
  if (!start || !stop) throw new Error('the storm client did not report its measured window');
  const seconds = (stop.at - start.at) / 1000;
  const perSecond = (key: 'gateway' | 'redis' | 'mongo' | 'client') => (stop[key] - start[key]) / seconds;
  const end = await scrapes[1];
  return {
    client: JSON.parse(output.trim().split('\n').pop()!) as StormClientResult,
    seconds,
    gatewayCpuMsPerSecond: perSecond('gateway'),
    redisCpuMsPerSecond: perSecond('redis'),
    mongoCpuMsPerSecond: perSecond('mongo'),
    clientCpuMsPerSecond: perSecond('client'),
    rssMb: processSample(gatewayPid).rssBytes / 2 ** 20,
    loopDelayP99Ms: (end?.cv.eventLoopLagP99Seconds ?? Number.NaN) * 1000,
  };
}

function redisVersion(): string {
  try {
    return /v=(\S+)/.exec(execFileSync('redis-server', ['--version']).toString())?.[1] ?? '?';
  } catch {
    return '?';
  }
}

function renderReport(rounds: Round[]): string {
  const f0 = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
  const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '—');
  const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '—');
  type Phases = Round['byTarget'][number];
  /** A round as one target saw it. */
  type View = { round: Round; t: Phases };
  const loginsPerSecond = (v: View) => v.t.storm.client.logins / v.t.storm.client.seconds;
  const bcryptCpuPerVerify = (v: View) =>
    (v.round.bounds[0].cpuMsPerSecond + v.round.bounds[1].cpuMsPerSecond) /
    (v.round.bounds[0].verifiesPerSecond + v.round.bounds[1].verifiesPerSecond);
  // The probes cost the gateway CPU in both phases; what a login costs is the storm's CPU above the quiet phase's.
  const cpuPerLogin = (v: View) =>
    ((v.t.storm.gatewayCpuMsPerSecond - v.t.quiet.gatewayCpuMsPerSecond) * v.t.storm.seconds) /
    Math.max(1, v.t.storm.client.logins);
  const stormRow = (label: string, x: (pick: (v: View) => number) => number) =>
    `| ${label} | ${f1(x((v) => v.round.bounds[0].verifiesPerSecond))} / ${f1(x((v) => v.round.bounds[1].verifiesPerSecond))} | ` +
    `**${f1(x(loginsPerSecond))}** | **${f2(x((v) => loginsPerSecond(v) / boundOf(v.round)))}** | ` +
    `${f0(x((v) => v.t.storm.client.login.p50))} / ${f0(x((v) => v.t.storm.client.login.p90))} / ${f0(x((v) => v.t.storm.client.login.p99))} / ${f0(x((v) => v.t.storm.client.login.p999))} | ` +
    `${f0(x((v) => v.t.quiet.gatewayCpuMsPerSecond))} → ${f0(x((v) => v.t.storm.gatewayCpuMsPerSecond))} | ${f1(x(cpuPerLogin))} | ${f1(x(bcryptCpuPerVerify))} | ` +
    `${f0(x((v) => v.t.quiet.redisCpuMsPerSecond))} → ${f0(x((v) => v.t.storm.redisCpuMsPerSecond))} | ${f0(x((v) => v.t.storm.mongoCpuMsPerSecond))} | ` +
    `${f0(x((v) => v.t.storm.rssMb))} | ${f0(x((v) => v.t.storm.clientCpuMsPerSecond))} | ${f0(x((v) => v.t.quiet.loopDelayP99Ms))} → ${f0(x((v) => v.t.storm.loopDelayP99Ms))} |`;
  type Probe = StormClientResult['introspect'];
  const probeRow = (target: string, label: string, rate: number, views: View[], pick: (c: StormClientResult) => Probe) => {
    const m = (phase: 'quiet' | 'storm', p: (l: Probe['latency']) => number) =>
      median(views.map((v) => p(pick(v.t[phase].client).latency)));
    const failures = views.reduce((n, v) => n + pick(v.t.quiet.client).failures + pick(v.t.storm.client).failures, 0);
    const sent = views.reduce((n, v) => n + pick(v.t.quiet.client).sent + pick(v.t.storm.client).sent, 0);
    return (
      `| ${target} | ${label} | ${rate} | ${f1(m('quiet', (l) => l.p50))} / ${f1(m('quiet', (l) => l.p99))} | ` +
      `${f1(m('storm', (l) => l.p50))} / ${f1(m('storm', (l) => l.p99))} / ${f1(m('storm', (l) => l.p999))} | ` +
      `**${ratio(
        m('storm', (l) => l.p99),
        m('quiet', (l) => l.p99),
      )}** | ${failures} of ${sent.toLocaleString('en-US')} |`
    );
  };
  const stormRows: string[] = [];
  const probeRows: string[] = [];
  for (const [i, target] of targets.entries()) {
    const views = rounds.map((round) => ({ round, t: round.byTarget[i]! }));
    views.forEach((v, r) => stormRows.push(stormRow(`${target.label}, round ${r + 1}`, (pick) => pick(v))));
    stormRows.push(stormRow(`**${target.label}, median**`, (pick) => median(views.map(pick))));
    probeRows.push(
      probeRow(target.label, 'introspect, seen token (cache)', options.introspectRate, views, (c) => c.introspect),
      probeRow(target.label, 'introspect, first-seen token', options.freshRate, views, (c) => c.fresh),
      probeRow(target.label, 'WebSocket connect, first-seen token', options.connectRate, views, (c) => c.connect),
    );
  }
  const bound = rounds[0]!.bounds[0];
  const cpu = cpus();
  const args = process.argv.slice(2).join(' ');
  const concurrency = bcryptConcurrency(config.VIGIL_BCRYPT_CONCURRENCY, bound.poolSize, bound.cores);
  return [
    `Run ${new Date().toISOString()} by \`npm run bench:storm${args ? ` -- ${args}` : ''}\` (bench/login-storm.ts).`,
    '',
    `- Machine: ${cpu.length} × ${cpu[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}; the clients, the gateway, Redis and FerretDB share these cores with other work (1-min load average at each round's start: ${rounds.map((r) => r.loadAverage.split(' ')[0]).join(', ')}).`,
    `- Versions: Node ${process.version}, bcrypt ${packageVersion('bcrypt')}, uWebSockets.js ${packageVersion('uWebSockets.js')}, jose ${packageVersion('jose')}, ioredis ${packageVersion('ioredis')}, mongodb ${packageVersion('mongodb')}, ws ${packageVersion('ws')} (client), Redis ${redisVersion()}, FerretDB (shared, SQLite).`,
    `- Gateway: one process, \`NODE_ENV=production\`, bcrypt cost ${options.cost}, libuv pool ${bound.poolSize} threads (UV_THREADPOOL_SIZE; bcrypt, WebCrypto Ed25519 and file I/O all queue there), VIGIL_BCRYPT_CONCURRENCY=${config.VIGIL_BCRYPT_CONCURRENCY} (${concurrency} bcrypt ${concurrency === 1 ? 'call' : 'calls'} on the pool at once), continuous verification off. Limits raised for the benchmark, because one loopback address makes every request: ${Object.entries(
      BENCH_LIMITS,
    )
      .map(([k, v]) => `${k}=${v}`)
      .join(
        ', ',
      )}; everything else is the default configuration.${targets.length > 1 ? ` Compared in the same run: a second gateway on the same stores with ${options.compare}; each round runs both, in alternating order.` : ''} A Redis started for this run (Redis CPU is this run's commands); FerretDB is the shared one (its CPU includes other work).`,
    `- Bound: the gateway's own \`PasswordHasher.verifyPassword\` in a process of its own with the gateway's environment, unthrottled (${bound.poolSize} calls at once, the whole pool; ${bound.poolSize * 2} in flight), 1 s warm-up then ${options.boundSeconds} s with the gateways idle, measured at the start and at the end of each round; logins ÷ bound uses their mean.`,
    `- Storm: ${options.accounts} accounts signed up through \`POST /v1/accounts\` (username + password; active at once, the default), then ${options.clients} clients each with one \`POST /v1/sessions\` password login in flight, cycling through the accounts, ${options.warmup} s warm-up then ${options.seconds} s measured. Every login is a full one: limits, account lookup, bcrypt compare, session and refresh family in Redis, EdDSA access token, audit record.`,
    `- Probes, the same in both phases, open loop (latency from each request's due time, so a stalled client cannot hide requests): ${options.introspectRate}/s \`POST /v1/tokens/introspect\` of one token already seen (verified-token cache), ${options.freshRate}/s introspection of tokens never presented before (Ed25519 verify + Redis session check), ${options.connectRate}/s WebSocket connects to \`/v1/stream\` with a never-presented token in \`Authorization\`, timed until the \`ready\` message. Quiet phase: the probes alone for ${options.quietSeconds} s (after ${options.warmup} s warm-up), just before the storm on the same gateway. ${options.rounds} rounds; medians of the rounds.`,
    "- CPU is user + system time of the whole process (all threads, /proc) over the measured window. Gateway CPU per login: the storm window's CPU above the quiet phase's rate, per login; bcrypt CPU per verify: the bound process's CPU per verification. Event-loop delay p99: the gateway's own (prom-client, /metrics, over the window).",
    '',
    '| gateway, round | bound verifies/s (start / end) | logins/s | logins ÷ bound | login p50 / p90 / p99 / p99.9 ms | gateway CPU ms/s quiet → storm | gateway CPU ms/login | bcrypt CPU ms/verify | Redis CPU ms/s quiet → storm | FerretDB CPU ms/s (shared) | gateway RSS MB | client CPU ms/s | event-loop delay p99 ms quiet → storm |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...stormRows,
    '',
    '| gateway | probe | rate /s | quiet p50 / p99 ms | storm p50 / p99 / p99.9 ms | storm p99 ÷ quiet p99 | failures |',
    '|---|---|---:|---:|---:|---:|---:|',
    ...probeRows,
  ].join('\n');
}

function writeSection(path: string, report: string): void {
  const begin = '<!-- bench:storm:begin -->';
  const end = '<!-- bench:storm:end -->';
  const section = `${begin}\n${report}\n${end}`;
  let doc = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
  if (doc.includes(begin) && doc.includes(end)) {
    doc = doc.slice(0, doc.indexOf(begin)) + section + doc.slice(doc.indexOf(end) + end.length);
  } else {
    doc = `${doc.trimEnd()}\n\n## Login storm\n\n${section}\n`;
  }
  writeFileSync(path, doc);
}
