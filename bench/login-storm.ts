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
import { median, parseStormOptions, ratio, StormOptionError, type StormOptions } from './login-storm-options.ts';
import type { StormClientInput, StormClientResult } from './storm-client.ts';

/**
 * `npm run bench:storm`: the login storm. Password logins per second against the bcrypt bound
 * measured in the same run, and what the storm does to introspection and socket-connect latency.
 *
 * One gateway child process (production mode, its own database, a Redis started for this run so
 * Redis CPU is this run's only), K accounts signed up through the API. Each round:
 *  1. the bound: the gateway's own PasswordHasher, in a process of its own with the gateway's
 *     environment (same cost, same libuv pool size), verifying as fast as the pool allows;
 *  2. the quiet phase: the probes alone (steady-rate introspection of a seen token and of
 *     first-seen tokens, authenticated WebSocket connects with first-seen tokens);
 *  3. the storm: C clients logging in back to back, the same probes beside them.
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

interface Round {
  loadAverage: string;
  bound: { verifiesPerSecond: number; cpuMsPerSecond: number; poolSize: number; cores: number };
  quiet: PhaseFigures;
  storm: PhaseFigures;
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
let gateway: ChildGateway | undefined;

try {
  gateway = await spawnChildGateway(configEnv(config));
  const gatewayPid = gateway.child.pid!;
  say(`gateway ${gateway.url} (pid ${gatewayPid}), Redis :${redis.port} for this run; signing up ${options.accounts} accounts…`);
  const accounts = await signUp(gateway.url, options.accounts);
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
  const needed = warm.fresh + warm.connect + options.rounds * (quiet.fresh + quiet.connect + storm.fresh + storm.connect) + 1;
  say(`making ${needed} sessions through the session service (first-seen tokens for the probes)…`);
  const tokens = await makeTokens(
    config,
    accounts.map((a) => a.id),
    needed,
  );
  const seenToken = tokens.pop()!;
  const take = (count: number) => tokens.splice(0, count);

  const runPhase = async (name: string, clients: number, seconds: number, slice: { fresh: number; connect: number }) => {
    const freshTokensFile = join(work, `${name}-fresh.json`);
    const connectTokensFile = join(work, `${name}-connect.json`);
    writeFileSync(freshTokensFile, JSON.stringify(take(slice.fresh)));
    writeFileSync(connectTokensFile, JSON.stringify(take(slice.connect)));
    return measurePhase(
      {
        url: gateway!.url,
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
      gatewayPid,
    );
  };

  say('warming the gateway up (5 s storm with probes, off the books)…');
  await runPhase('warm', options.clients, 5, warm);

  const rounds: Round[] = [];
  for (let r = 1; r <= options.rounds; r++) {
    const loadAvg = loadAverage();
    const bound = await measureBound(config);
    const quietPhase = await runPhase(`quiet-${r}`, 0, options.quietSeconds, quiet);
    const stormPhase = await runPhase(`storm-${r}`, options.clients, options.seconds, storm);
    const round: Round = { loadAverage: loadAvg, bound, quiet: quietPhase, storm: stormPhase };
    rounds.push(round);
    const c = stormPhase.client;
    say(
      `round ${r}/${options.rounds}: bound ${bound.verifiesPerSecond.toFixed(1)}/s, logins ${(c.logins / c.seconds).toFixed(1)}/s ` +
        `(${ratio(c.logins / c.seconds, bound.verifiesPerSecond)} of it), login p99 ${c.login.p99} ms; ` +
        `introspect p99 ${quietPhase.client.introspect.latency.p99} → ${c.introspect.latency.p99} ms, ` +
        `first-seen ${quietPhase.client.fresh.latency.p99} → ${c.fresh.latency.p99} ms, ` +
        `connect ${quietPhase.client.connect.latency.p99} → ${c.connect.latency.p99} ms; ` +
        `gateway ${Math.round(stormPhase.gatewayCpuMsPerSecond)} ms/s, Redis ${Math.round(stormPhase.redisCpuMsPerSecond)} ms/s, RSS ${Math.round(stormPhase.rssMb)} MB`,
    );
    for (const phase of [quietPhase, stormPhase]) {
      const failures = [
        phase.client.loginFailureSample,
        phase.client.introspect.failureSample,
        phase.client.fresh.failureSample,
        phase.client.connect.failureSample,
      ].filter(Boolean);
      if (failures.length > 0) say(`  failures: ${failures.join(' | ')}`);
    }
  }

  const report = renderReport(rounds);
  say(`\n${report}`);
  if (options.output !== '-') writeSection(join(ROOT, options.output), report);
} finally {
  await gateway?.stop();
  await dropTestData(config).catch(() => {});
  await redis.stop();
  rmSync(work, { recursive: true, force: true });
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

async function measureBound(config: Config): Promise<Round['bound']> {
  const input = { cost: config.VIGIL_BCRYPT_COST, warmupMs: 1000, durationMs: options.boundSeconds * 1000 };
  const output = await runChild(['bench/bcrypt-bound.ts', JSON.stringify(input)], () => {});
  return JSON.parse(output.trim().split('\n').pop()!) as Round['bound'];
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
  const m = (pick: (r: Round) => number) => median(rounds.map(pick));
  const f0 = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
  const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '—');
  const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '—');
  const loginsPerSecond = (r: Round) => r.storm.client.logins / r.storm.client.seconds;
  // The probes cost the gateway CPU in both phases; what a login costs is the storm's CPU above the quiet phase's.
  const cpuPerLogin = (r: Round) =>
    ((r.storm.gatewayCpuMsPerSecond - r.quiet.gatewayCpuMsPerSecond) * r.storm.seconds) / Math.max(1, r.storm.client.logins);
  const stormRow = (label: string, x: (pick: (r: Round) => number) => number) =>
    `| ${label} | ${f1(x((r) => r.bound.verifiesPerSecond))} | ${f1(x((r) => r.bound.cpuMsPerSecond / r.bound.verifiesPerSecond))} | **${f1(x(loginsPerSecond))}** | **${f2(x((r) => loginsPerSecond(r) / r.bound.verifiesPerSecond))}** | ` +
    `${f1(x((r) => r.storm.client.login.p50))} / ${f1(x((r) => r.storm.client.login.p90))} / ${f1(x((r) => r.storm.client.login.p99))} / ${f1(x((r) => r.storm.client.login.p999))} | ` +
    `${f0(x((r) => r.quiet.gatewayCpuMsPerSecond))} → ${f0(x((r) => r.storm.gatewayCpuMsPerSecond))} | ${f1(x(cpuPerLogin))} | ` +
    `${f0(x((r) => r.quiet.redisCpuMsPerSecond))} → ${f0(x((r) => r.storm.redisCpuMsPerSecond))} | ${f0(x((r) => r.storm.mongoCpuMsPerSecond))} | ` +
    `${f0(x((r) => r.storm.rssMb))} | ${f0(x((r) => r.storm.clientCpuMsPerSecond))} | ${f1(x((r) => r.quiet.loopDelayP99Ms))} → ${f1(x((r) => r.storm.loopDelayP99Ms))} |`;
  const probeRow = (label: string, rate: number, pick: (c: StormClientResult) => StormClientResult['introspect']) => {
    const q = (p: (s: StormClientResult['introspect']['latency']) => number) => m((r) => p(pick(r.quiet.client).latency));
    const s = (p: (s: StormClientResult['introspect']['latency']) => number) => m((r) => p(pick(r.storm.client).latency));
    const failures = rounds.reduce((n, r) => n + pick(r.quiet.client).failures + pick(r.storm.client).failures, 0);
    const sent = rounds.reduce((n, r) => n + pick(r.quiet.client).sent + pick(r.storm.client).sent, 0);
    return (
      `| ${label} | ${rate} | ${f2(q((l) => l.p50))} / ${f2(q((l) => l.p99))} | ${f2(s((l) => l.p50))} / ${f2(s((l) => l.p99))} / ${f2(s((l) => l.p999))} | ` +
      `**${ratio(
        s((l) => l.p99),
        q((l) => l.p99),
      )}** | ${f2(s((l) => l.max))} | ${failures} of ${sent.toLocaleString('en-US')} |`
    );
  };
  const first = rounds[0]!;
  const cpu = cpus();
  const args = process.argv.slice(2).join(' ');
  return [
    `Run ${new Date().toISOString()} by \`npm run bench:storm${args ? ` -- ${args}` : ''}\` (bench/login-storm.ts).`,
    '',
    `- Machine: ${cpu.length} × ${cpu[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}; the clients, the gateway, Redis and FerretDB share these cores with other work (1-min load average at each round's start: ${rounds.map((r) => r.loadAverage.split(' ')[0]).join(', ')}).`,
    `- Versions: Node ${process.version}, bcrypt ${packageVersion('bcrypt')}, uWebSockets.js ${packageVersion('uWebSockets.js')}, jose ${packageVersion('jose')}, ioredis ${packageVersion('ioredis')}, mongodb ${packageVersion('mongodb')}, ws ${packageVersion('ws')} (client), Redis ${redisVersion()}, FerretDB (shared, SQLite).`,
    `- Gateway: one process, \`NODE_ENV=production\`, bcrypt cost ${options.cost}, libuv pool ${first.bound.poolSize} threads (UV_THREADPOOL_SIZE; bcrypt, WebCrypto Ed25519 and file I/O all queue there), continuous verification off. Limits raised for the benchmark, because one loopback address makes every request: ${Object.entries(
      BENCH_LIMITS,
    )
      .map(([k, v]) => `${k}=${v}`)
      .join(
        ', ',
      )}; everything else is the default configuration. A Redis started for this run (Redis CPU is this run's commands); FerretDB is the shared one (its CPU includes other work).`,
    `- Bound: the gateway's own \`PasswordHasher.verifyPassword\` (bcrypt's async compare on the libuv pool) in a process of its own with the gateway's environment, ${first.bound.poolSize * 2} verifications in flight, 1 s warm-up then ${options.boundSeconds} s, gateway idle, measured each round just before its storm.`,
    `- Storm: ${options.accounts} accounts signed up through \`POST /v1/accounts\` (username + password; active at once, the default), then ${options.clients} clients each with one \`POST /v1/sessions\` password login in flight, cycling through the accounts, ${options.warmup} s warm-up then ${options.seconds} s measured. Every login is a full one: limits, account lookup, bcrypt compare, session and refresh family in Redis, EdDSA access token, audit record.`,
    `- Probes, the same in both phases, open loop (latency from each request's due time, so a stalled client cannot hide requests): ${options.introspectRate}/s \`POST /v1/tokens/introspect\` of one token already seen (verified-token cache), ${options.freshRate}/s introspection of tokens never presented before (Ed25519 verify + Redis session check), ${options.connectRate}/s WebSocket connects to \`/v1/stream\` with a never-presented token in \`Authorization\`, timed until the \`ready\` message. Quiet phase: the probes alone for ${options.quietSeconds} s (after ${options.warmup} s warm-up), just before the storm of the same round. ${options.rounds} rounds; medians of the rounds.`,
    "- CPU is user + system time of the whole process (all threads, /proc) over the measured window; gateway CPU per login is the storm window's CPU above the quiet phase's rate, per login. Event-loop delay p99 is the gateway's own (prom-client, /metrics, over the window).",
    '',
    '| round | bcrypt bound verifies/s | bound CPU ms/verify | logins/s | logins ÷ bound | login p50 / p90 / p99 / p99.9 ms | gateway CPU ms/s quiet → storm | gateway CPU ms/login | Redis CPU ms/s quiet → storm | FerretDB CPU ms/s (shared) | gateway RSS MB | client CPU ms/s | event-loop delay p99 ms quiet → storm |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rounds.map((r, i) => stormRow(String(i + 1), (pick) => pick(r))),
    stormRow('**median**', m),
    '',
    '| probe (during the storm vs quiet, medians) | rate /s | quiet p50 / p99 ms | storm p50 / p99 / p99.9 ms | storm p99 ÷ quiet p99 | storm max ms | failures |',
    '|---|---:|---:|---:|---:|---:|---:|',
    probeRow('introspect, seen token (cache)', options.introspectRate, (c) => c.introspect),
    probeRow('introspect, first-seen token', options.freshRate, (c) => c.fresh),
    probeRow('WebSocket connect, first-seen token', options.connectRate, (c) => c.connect),
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
