import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/config.ts';
import type { Config } from '../src/config/schema.ts';
import { generateSigningJwk } from '../src/tokens/key-ring.ts';
import { configEnv } from '../test/support/config.ts';
import { dropTestData } from '../test/support/gateway.ts';
import { startNode } from '../test/sessions/support.ts';
import { BENCH_INTROSPECTION_TOKEN, packageVersion } from './bench-env.ts';

/**
 * `npm run bench`: POST /v1/tokens/introspect throughput, p50/p99 latency, server CPU time and
 * RSS, for the gateway (verified-token cache on, and off) against a plain node:http + jose
 * baseline, all measured in the same run on the same tokens. Every server and the load
 * generator are separate processes; rounds are interleaved and medians reported.
 * Env: BENCH_ROUNDS (5), BENCH_SECONDS (5), BENCH_WARMUP_SECONDS (1), BENCH_CONNECTIONS (32),
 * BENCH_TOKENS (1000), BENCH_OUTPUT (docs/benchmarks.md; "-" prints only).
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const ROUNDS = env('BENCH_ROUNDS', 5);
const SECONDS = env('BENCH_SECONDS', 5);
const WARMUP_SECONDS = env('BENCH_WARMUP_SECONDS', 1);
const CONNECTIONS = env('BENCH_CONNECTIONS', 32);
const TOKENS = env('BENCH_TOKENS', 1000);
const OUTPUT = process.env.BENCH_OUTPUT ?? join(root, 'docs/benchmarks.md');
const TSX = ['--import', 'tsx'];

interface Server {
  name: string;
  description: string;
  child: ChildProcess;
  port: number;
}

interface RoundResult {
  rps: number;
  p50us: number;
  p99us: number;
  failures: number;
  requests: number;
  /** Server CPU (user + system) during the measured window, ms per wall-clock second. */
  cpuMsPerSecond: number;
  cpuUsPerRequest: number;
  rssMb: number;
  /** The load generator's own CPU, ms per second: near 1000 means it, not the server, set the pace. */
  clientCpuMsPerSecond: number;
}

execFileSync('bash', [join(root, 'scripts/services.sh'), 'start', '--quiet'], { stdio: 'inherit' });

const id = randomBytes(4).toString('hex');
const key = await generateSigningJwk();
const config: Config = loadConfig({
  ...process.env,
  NODE_ENV: 'production',
  VIGIL_BIOMETRIC_KEYS: `bench:${randomBytes(32).toString('base64')}`,
  LOG_LEVEL: 'warn',
  PORT: '0',
  MONGO_DB: `vigil_bench_${id}`,
  REDIS_PREFIX: `vigil:bench:${id}:`,
  VIGIL_JWT_PRIVATE_KEYS: JSON.stringify({ keys: [key.privateJwk] }),
  VIGIL_INTROSPECTION_TOKEN: BENCH_INTROSPECTION_TOKEN,
  // One client address drives the whole benchmark.
  VIGIL_INTROSPECTION_PER_SECOND: '10000000',
});
const work = mkdtempSync(join(tmpdir(), 'vigil-bench-'));
const servers: Server[] = [];

try {
  // Real sessions in Redis, made through the session service (a login per token would measure bcrypt).
  const node = await startNode(config);
  const tokens: string[] = [];
  for (let i = 0; i < TOKENS; i++) {
    tokens.push((await node.core.sessions.start({ userId: `bench-user-${i % 100}` })).tokens.accessToken);
  }
  await node.close();
  const tokensFile = join(work, 'tokens.json');
  writeFileSync(tokensFile, JSON.stringify(tokens));

  servers.push(await startGatewayProcess('vigil', 'gateway, verified-token cache on (default)', {}));
  servers.push(
    await startGatewayProcess('vigil-no-cache', 'gateway, cache off: Ed25519 verify + Redis session check per request', {
      VIGIL_TOKEN_CACHE_MAX: '0',
    }),
  );
  servers.push(await startBaseline(key.publicJwk));
  for (const server of servers) await assertActive(server, tokens[0]!);

  const results = new Map<string, RoundResult[]>(servers.map((s) => [s.name, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const server of servers) {
      const result = await measure(server, tokensFile);
      results.get(server.name)!.push(result);
      process.stdout.write(
        `round ${round}/${ROUNDS} ${server.name.padEnd(15)} ${Math.round(result.rps)} req/s  p50 ${result.p50us} µs  p99 ${result.p99us} µs  cpu ${Math.round(result.cpuMsPerSecond)} ms/s (client ${Math.round(result.clientCpuMsPerSecond)})  rss ${result.rssMb.toFixed(0)} MB\n`,
      );
    }
  }

  const report = renderReport(servers, results);
  process.stdout.write(`\n${report}\n`);
  if (OUTPUT !== '-') writeSection(OUTPUT, report);
} finally {
  for (const server of servers) server.child.kill('SIGTERM');
  await dropTestData(config);
  rmSync(work, { recursive: true, force: true });
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function startGatewayProcess(name: string, description: string, extra: Record<string, string>): Promise<Server> {
  const port = await freePort();
  const child = spawn(process.execPath, [...TSX, join(root, 'src/main.ts')], {
    cwd: root,
    env: { ...process.env, ...configEnv(config), PORT: String(port), ...extra },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${name} did not become ready`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { name, description, child, port };
}

async function startBaseline(publicJwk: object): Promise<Server> {
  const child = spawn(process.execPath, [...TSX, join(root, 'bench/baseline-server.ts')], {
    cwd: root,
    env: {
      ...process.env,
      BENCH_PUBLIC_JWK: JSON.stringify(publicJwk),
      BENCH_ISSUER: config.VIGIL_JWT_ISSUER,
      BENCH_AUDIENCE: config.VIGIL_JWT_AUDIENCE,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (chunk: Buffer) => resolve((JSON.parse(chunk.toString()) as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`baseline exited with ${code}`)));
  });
  return { name: 'baseline', description: 'plain node:http + jose jwtVerify, nothing else', child, port };
}

async function assertActive(server: Server, token: string): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${server.port}/v1/tokens/introspect`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${BENCH_INTROSPECTION_TOKEN}` },
    body: JSON.stringify({ token }),
  });
  const body = (await res.json()) as { active?: boolean };
  if (body.active !== true) throw new Error(`${server.name} does not accept the benchmark tokens: ${JSON.stringify(body)}`);
}

/** utime + stime of a process, in ms (Linux /proc; CLK_TCK is 100 on every Linux we run on). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function rssMb(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return kb / 1024;
}

async function measure(server: Server, tokensFile: string): Promise<RoundResult> {
  const pid = server.child.pid!;
  const options = {
    port: server.port,
    tokensFile,
    connections: CONNECTIONS,
    warmupMs: WARMUP_SECONDS * 1000,
    durationMs: SECONDS * 1000,
  };
  const client = spawn(process.execPath, [...TSX, join(root, 'bench/load-client.ts'), JSON.stringify(options)], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  client.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // CPU is read over the measured window only: after warm-up, until the client stops counting.
  await new Promise((resolve) => setTimeout(resolve, options.warmupMs));
  const cpuBefore = cpuMs(pid);
  const clientBefore = cpuMs(client.pid!);
  const startedAt = process.hrtime.bigint();
  await new Promise((resolve) => setTimeout(resolve, options.durationMs));
  const cpuAfter = cpuMs(pid);
  const clientAfter = cpuMs(client.pid!);
  const wallSeconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
  const rss = rssMb(pid);
  const code = await new Promise<number | null>((resolve) => client.once('exit', resolve));
  if (code !== 0) throw new Error(`load client failed (${code})`);
  const result = JSON.parse(output) as { requests: number; failures: number; rps: number; p50us: number; p99us: number };
  if (result.failures > 0) throw new Error(`${server.name}: ${result.failures} introspections did not answer active`);
  const cpu = cpuAfter - cpuBefore;
  return {
    rps: result.rps,
    p50us: result.p50us,
    p99us: result.p99us,
    failures: result.failures,
    requests: result.requests,
    cpuMsPerSecond: cpu / wallSeconds,
    cpuUsPerRequest: (cpu * 1000) / Math.max(1, result.requests),
    rssMb: rss,
    clientCpuMsPerSecond: (clientAfter - clientBefore) / wallSeconds,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function renderReport(list: Server[], results: Map<string, RoundResult[]>): string {
  const redisVersion = (() => {
    try {
      return (
        /redis_version:(\S+)/.exec(execFileSync('redis-cli', ['-u', config.REDIS_URL, 'info', 'server']).toString())?.[1] ?? '?'
      );
    } catch {
      return '?';
    }
  })();
  const cpu = cpus();
  const rows = list.map((server) => {
    const rounds = results.get(server.name)!;
    const m = (pick: (r: RoundResult) => number) => median(rounds.map(pick));
    return `| ${server.name} | ${Math.round(m((r) => r.rps)).toLocaleString('en-US')} | ${(m((r) => r.p50us) / 1000).toFixed(2)} | ${(m((r) => r.p99us) / 1000).toFixed(2)} | ${Math.round(m((r) => r.cpuMsPerSecond))} | ${m((r) => r.cpuUsPerRequest).toFixed(1)} | ${m((r) => r.rssMb).toFixed(0)} | ${Math.round(m((r) => r.clientCpuMsPerSecond))} | ${server.description} |`;
  });
  return [
    `Run ${new Date().toISOString()} by \`npm run bench\` (bench/introspection.ts).`,
    '',
    `- Machine: ${cpu.length} × ${cpu[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; load generator, servers and Redis share these cores (load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' / ')} when the report was written).`,
    `- Versions: Node ${process.version}, jose ${packageVersion('jose')}, uWebSockets.js ${packageVersion('uWebSockets.js')}, ioredis ${packageVersion('ioredis')}, Redis ${redisVersion}.`,
    `- Load: ${CONNECTIONS} keep-alive connections, one request in flight each (closed loop), raw-socket client in its own process, cycling through ${TOKENS} access tokens of ${TOKENS} live sessions; ${WARMUP_SECONDS} s warm-up then ${SECONDS} s measured; ${ROUNDS} rounds, servers interleaved; medians of the rounds.`,
    '- Gateway: `NODE_ENV=production` (no reply-schema checks), `LOG_LEVEL=warn` (no per-request log line), every other module as in production. Server CPU is user + system time of the server process over the measured window (/proc); RSS at the end of the window.',
    '',
    '| server | req/s | p50 ms | p99 ms | server CPU ms/s | server CPU µs/req | RSS MB | client CPU ms/s | what it does per request |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
    ...rows,
    '',
    'Reading it:',
    '- **server CPU µs/req** is the efficiency figure least disturbed by the shared machine: what one introspection costs the server.',
    '- **vigil** answers repeat tokens from the verified-token cache (SHA-256 of the token, a map lookup; revocations evict entries over pub/sub), so neither Ed25519 nor Redis is on its hot path. This is the path socket upgrades and resource servers hit.',
    '- **vigil-no-cache** is the cost of a token seen for the first time: jose/WebCrypto Ed25519 verification plus one Redis round trip to check the session is live — more work than the baseline, which never learns about revocation.',
    '- **baseline** is stateless JWT validation as most resource servers do it: a revoked session stays valid there until the token expires.',
    `- The load generator, Redis and the server share ${cpus().length} cores, so req/s and latency are lower bounds for this machine; client CPU near 1000 ms/s would mean the generator, not the server, set the pace.`,
  ].join('\n');
}

function writeSection(path: string, report: string): void {
  const begin = '<!-- bench:introspection:begin -->';
  const end = '<!-- bench:introspection:end -->';
  const section = `${begin}\n${report}\n${end}`;
  let doc = existsSync(path)
    ? readFileSync(path, 'utf8')
    : '# Benchmarks\n\nEach section is written by its benchmark script; rerun the script to refresh it.\n';
  if (doc.includes(begin) && doc.includes(end)) {
    doc = doc.slice(0, doc.indexOf(begin)) + section + doc.slice(doc.indexOf(end) + end.length);
  } else {
    doc = `${doc.trimEnd()}\n\n## Token introspection\n\n${section}\n`;
  }
  writeFileSync(path, doc);
}
