import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as hdr from 'hdr-histogram-js';
import { SignJWT } from 'jose';
import { prepareSessions } from './load-accounts.ts';
import type { LoadOptions } from './load-options.ts';
import { percentiles, type Percentiles } from './latency.ts';
import {
  CENTRIFUGO_VERSION,
  PEER_CLIENT_BIN,
  ensureCentrifugo,
  ensurePeerClient,
  processSample,
  startCentrifugo,
  startRunRedis,
  type PeerProcess,
} from './peer-servers.ts';
import { spawnLoadGateway } from './spawn-gateway.ts';

/**
 * `npm run load -- --peer centrifugo [--connections N] [--concurrency K] [--rounds R]`
 *
 * Vigil and Centrifugo side by side in one run, driven by one Go client (bench/peer-client):
 * the same authenticated-connect burst (N sockets, K in flight) and the same idle hold against
 * both, rounds interleaved (the order alternates), medians of the rounds. Per connect: server
 * CPU (all threads, /proc), Redis CPU (a Redis started for this run, so only this run's
 * commands count), the client's own CPU (it must not be the bottleneck); per idle socket: RSS.
 * `--variant NAME=VALUE[,NAME=VALUE]` adds a second Vigil with those settings (a before/after in
 * the same run). The report goes to stdout and into docs/benchmarks.md.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const say = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;
const MiB = 1024 * 1024;

/** A server under test; started afresh for every round, so each round's RSS starts from a new process. */
interface Target {
  name: string;
  kind: 'vigil' | 'centrifugo';
  tokensFile: string;
  /** One token per account: the warm-up touches every account once (the measured burst then meets a warm token cache). */
  warmTokensFile: string;
  usesRedis: boolean;
  start(): Promise<Running>;
}

interface Running {
  pid: number;
  socketUrl: string;
  stop(): Promise<void>;
}

export interface PeerRound {
  target: string;
  round: number;
  ready: number;
  failed: number;
  firstError: string;
  seconds: number;
  connectsPerSecond: number;
  latencyMs: Percentiles;
  serverCpuUsPerConnect: number;
  redisCpuUsPerConnect: number;
  clientCpuUsPerConnect: number;
  clientCpuPercent: number;
  rssBeforeMiB: number;
  rssWithSocketsMiB: number;
  rssPerSocketKiB: number;
  upstream:
    | {
        sentPerSecond: number;
        /** Vigil acks / Centrifugo publish replies received per second, and sockets the server closed. */
        answeredPerSecond: number;
        closedByServer: number;
        serverCpuUsPerMessage: number;
        clientCpuPercent: number;
      }
    | undefined;
  loadAverage: number;
}

interface ClientLine {
  phase: string;
  [key: string]: unknown;
}

/** One Go client process: connect burst, optional upstream phase, close. */
class PeerClient {
  private readonly child;
  private readonly lines: ClientLine[] = [];
  private waiter: (() => void) | undefined;
  private stderr = '';

  constructor(target: Target, socketUrl: string, tokensFile: string, options: LoadOptions, latencies: string) {
    this.child = spawn(
      PEER_CLIENT_BIN,
      [
        `-server=${target.kind}`,
        `-url=${socketUrl}`,
        `-tokens=${tokensFile}`,
        `-sockets=${options.connections}`,
        `-concurrency=${options.concurrency}`,
        `-latencies=${latencies}`,
        `-sources=${options.sources}`,
        `-ack-every=${options.ackEvery}`,
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let buffered = '';
    this.child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        this.lines.push(JSON.parse(buffered.slice(0, newline)) as ClientLine);
        buffered = buffered.slice(newline + 1);
        this.waiter?.();
      }
    });
    this.child.stderr.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.child.once('exit', () => this.waiter?.());
  }

  async next(phase: string, timeoutMs: number): Promise<ClientLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.lines.shift();
      if (line) {
        if (line.phase !== phase) throw new Error(`peer client: expected ${phase}, got ${JSON.stringify(line)}`);
        return line;
      }
      if (this.child.exitCode !== null) throw new Error(`peer client exited with ${this.child.exitCode}: ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`peer client: no ${phase} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        setTimeout(resolve, 500);
      });
      this.waiter = undefined;
    }
  }

  send(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  async close(): Promise<void> {
    this.child.stdin.end('close\n');
    if (this.child.exitCode === null) await new Promise((resolve) => this.child.once('exit', resolve));
  }
}

/** Lowest RSS of a few samples a second apart: RSS follows the garbage collector, the lowest is closest to live. */
async function settledRss(pid: number, seconds: number): Promise<number> {
  let lowest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < seconds; i++) {
    await sleep(1_000);
    lowest = Math.min(lowest, processSample(pid).rssBytes);
  }
  return lowest;
}

async function measureRound(
  target: Target,
  running: Running,
  redisPid: number,
  options: LoadOptions,
  index: number,
  tokensFile = target.tokensFile,
): Promise<PeerRound> {
  const rssBefore = await settledRss(running.pid, 3);
  const latencies = `${ROOT}.data/peer/latencies-${target.name}.bin`;
  const loadAverage = loadavg()[0]!;
  const server0 = processSample(running.pid);
  const redis0 = processSample(redisPid);
  const client = new PeerClient(target, running.socketUrl, tokensFile, options, latencies);
  let connected: ClientLine;
  try {
    connected = await client.next('connected', 300_000);
  } catch (err) {
    await client.close().catch(() => undefined);
    throw err;
  }
  const server1 = processSample(running.pid);
  const redis1 = processSample(redisPid);
  const ready = Number(connected.ready);
  const seconds = Number(connected.seconds);
  const perConnect = (cpuSeconds: number) => (ready > 0 ? round((cpuSeconds * 1e6) / ready) : 0);

  // Idle hold: the sockets stay open and quiet; RSS settles.
  await sleep(options.settle * 1000);
  const rssWith = await settledRss(running.pid, Math.max(3, options.duration));

  let upstream: PeerRound['upstream'];
  if (options.upstream > 0) {
    const s0 = processSample(running.pid);
    client.send(`stream ${options.upstream} ${options.duration}`);
    const streamed = await client.next('streamed', (options.duration + 60) * 1000);
    const s1 = processSample(running.pid);
    const sent = Number(streamed.sent);
    upstream = {
      sentPerSecond: Math.round(sent / Number(streamed.seconds)),
      answeredPerSecond: Math.round(
        Number(target.kind === 'vigil' ? streamed.acks : streamed.replies) / Number(streamed.seconds),
      ),
      closedByServer: Number(streamed.closed),
      serverCpuUsPerMessage: sent > 0 ? round(((s1.cpuSeconds - s0.cpuSeconds) * 1e6) / sent, 2) : 0,
      clientCpuPercent: Math.round((Number(streamed.cpuSeconds) / Number(streamed.seconds)) * 100),
    };
  }
  await client.close();
  // Let the server see the closes (Vigil releases quota slots) before the next target runs.
  await sleep(2_000);

  const histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000,
    numberOfSignificantValueDigits: 3,
  });
  const raw = existsSync(latencies) ? readFileSync(latencies) : Buffer.alloc(0);
  for (let offset = 0; offset + 4 <= raw.length; offset += 4) histogram.recordValue(raw.readUInt32LE(offset));
  return {
    target: target.name,
    round: index,
    ready,
    failed: Number(connected.failed),
    firstError: typeof connected.firstError === 'string' ? connected.firstError : JSON.stringify(connected.firstError ?? ''),
    seconds: round(seconds, 2),
    connectsPerSecond: Math.round(ready / seconds),
    latencyMs: percentiles(histogram),
    serverCpuUsPerConnect: perConnect(server1.cpuSeconds - server0.cpuSeconds),
    redisCpuUsPerConnect: target.usesRedis ? perConnect(redis1.cpuSeconds - redis0.cpuSeconds) : 0,
    clientCpuUsPerConnect: perConnect(Number(connected.cpuSeconds)),
    clientCpuPercent: Math.round((Number(connected.cpuSeconds) / seconds) * 100),
    rssBeforeMiB: round(rssBefore / MiB),
    rssWithSocketsMiB: round(rssWith / MiB),
    rssPerSocketKiB: ready > 0 ? round((rssWith - rssBefore) / 1024 / ready, 2) : 0,
    upstream,
    loadAverage: round(loadAverage, 2),
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

type Summary = {
  target: string;
  rounds: number;
  ready: string;
  connectsPerSecond: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  serverCpuUs: number;
  redisCpuUs: number;
  serverPlusRedisUs: number;
  clientCpuUs: number;
  clientCpuPercent: number;
  rssPerSocketKiB: number;
  rssWithSocketsMiB: number;
  upstreamCpuUs: number | undefined;
};

function summarize(name: string, rounds: PeerRound[]): Summary {
  const m = (pick: (r: PeerRound) => number, digits = 1) => round(median(rounds.map(pick)), digits);
  return {
    target: name,
    rounds: rounds.length,
    ready: rounds.map((r) => `${r.ready}`).join(' / '),
    connectsPerSecond: Math.round(m((r) => r.connectsPerSecond)),
    p50: m((r) => r.latencyMs.p50, 2),
    p90: m((r) => r.latencyMs.p90, 2),
    p99: m((r) => r.latencyMs.p99, 2),
    p999: m((r) => r.latencyMs.p999, 2),
    serverCpuUs: m((r) => r.serverCpuUsPerConnect),
    redisCpuUs: m((r) => r.redisCpuUsPerConnect),
    serverPlusRedisUs: m((r) => r.serverCpuUsPerConnect + r.redisCpuUsPerConnect),
    clientCpuUs: m((r) => r.clientCpuUsPerConnect),
    clientCpuPercent: Math.round(m((r) => r.clientCpuPercent)),
    rssPerSocketKiB: m((r) => r.rssPerSocketKiB, 2),
    rssWithSocketsMiB: m((r) => r.rssWithSocketsMiB),
    upstreamCpuUs: rounds[0]?.upstream ? m((r) => r.upstream!.serverCpuUsPerMessage, 2) : undefined,
  };
}

function report(options: LoadOptions, started: Date, summaries: Summary[], rounds: PeerRound[], versions: string): string {
  const fmt = (n: number) => n.toLocaleString('en-US');
  const peer = summaries.find((s) => s.target === 'centrifugo');
  const ratio = (a: number, b: number | undefined) => (b ? (a / b).toFixed(2) : '—');
  const lines = [
    `Run ${started.toISOString()} by \`npm run load -- --peer centrifugo --connections ${options.connections} --concurrency ${options.concurrency} --rounds ${options.rounds}${options.variant ? ` --variant ${options.variant}` : ''}${options.upstream ? ` --upstream ${options.upstream}` : ''}\` (scripts/load/peer.ts).`,
    '',
    `- Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${round(totalmem() / 1024 ** 3)} GiB, Linux ${release()}; the client, both servers and Redis share these cores with other work (1-min load average at the rounds' starts: ${rounds.map((r) => r.loadAverage).join(', ')}).`,
    `- Versions: ${versions}.`,
    `- Load: one Go client (bench/peer-client, gorilla/websocket) opens ${fmt(options.connections)} authenticated sockets, ${options.concurrency} in flight, ${options.perUser} per account (${Math.ceil(options.connections / options.perUser)} accounts / subjects), then holds them idle; ${options.rounds} rounds, targets interleaved (order alternating), each server started afresh per round and warmed up off the books with 1,000 connects spread over every account (Vigil's verified-token cache then holds every token, as on a gateway that has seen its users before), medians of the rounds. Vigil: EdDSA access token in the \`bearer.\` subprotocol, answered by \`ready\` after the per-user quota admission in Redis. Centrifugo: HS256 connection token in the JSON \`connect\` command, answered by its connect reply (memory engine, no Redis).`,
    `- CPU is user + system time of the whole process (all threads) from /proc over the connect burst; Redis is a redis-server started for this run (AOF on, as scripts/services.sh runs it), so its CPU is this run's commands. RSS per socket: (lowest RSS of the hold − lowest RSS before) / sockets.`,
    '',
    '| server | ready (per round) | connects/s | connect p50 / p90 / p99 / p99.9 ms | server CPU µs/connect | Redis CPU µs/connect | server + Redis µs/connect | RSS with sockets | RSS per idle socket | client CPU µs/connect (% of a core) |' +
      (options.upstream ? ' server CPU µs per upstream message |' : ''),
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|' + (options.upstream ? '---:|' : ''),
    ...summaries.map(
      (s) =>
        `| ${s.target} | ${s.ready} | ${fmt(s.connectsPerSecond)} | ${s.p50} / ${s.p90} / ${s.p99} / ${s.p999} | ${s.serverCpuUs} | ${s.redisCpuUs} | **${s.serverPlusRedisUs}** | ${s.rssWithSocketsMiB} MiB | ${s.rssPerSocketKiB} KiB | ${s.clientCpuUs} (${s.clientCpuPercent} %) |` +
        (options.upstream ? ` ${s.upstreamCpuUs ?? '—'} |` : ''),
    ),
    ...(peer
      ? summaries
          .filter((s) => s !== peer)
          .map(
            (s) =>
              `| ratio ${s.target} / centrifugo | | ${ratio(s.connectsPerSecond, peer.connectsPerSecond)} | p99 ${ratio(s.p99, peer.p99)} | ${ratio(s.serverCpuUs, peer.serverCpuUs)} | | **${ratio(s.serverPlusRedisUs, peer.serverPlusRedisUs)}** | | ${ratio(s.rssPerSocketKiB, peer.rssPerSocketKiB)} | |` +
              (options.upstream ? ` ${ratio(s.upstreamCpuUs ?? 0, peer.upstreamCpuUs)} |` : ''),
          )
      : []),
    '',
    'Rounds (in the order run):',
    '',
    '| round | server | connects/s | p99 ms | server µs | Redis µs | client CPU % | RSS/socket KiB | load avg |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rounds.map(
      (r) =>
        `| ${r.round} | ${r.target} | ${fmt(r.connectsPerSecond)} | ${r.latencyMs.p99} | ${r.serverCpuUsPerConnect} | ${r.redisCpuUsPerConnect} | ${r.clientCpuPercent} | ${r.rssPerSocketKiB} | ${r.loadAverage} |`,
    ),
  ];
  return lines.join('\n');
}

/** Replaces this size's section of docs/benchmarks.md (appended under the peer heading when new). */
function writeSection(connections: number, text: string): void {
  const path = `${ROOT}docs/benchmarks.md`;
  const begin = `<!-- load:peer:${connections}:begin -->`;
  const end = `<!-- load:peer:${connections}:end -->`;
  const doc = readFileSync(path, 'utf8');
  const section = `${begin}\n${text}\n${end}`;
  const a = doc.indexOf(begin);
  const b = doc.indexOf(end);
  const heading = '## Centrifugo side by side';
  let next: string;
  if (a >= 0 && b > a) next = doc.slice(0, a) + section + doc.slice(b + end.length);
  else if (doc.includes(heading)) {
    const at = doc.indexOf(heading);
    const after = doc.indexOf('\n## ', at + heading.length);
    const insertAt = after >= 0 ? after : doc.length;
    next = `${doc.slice(0, insertAt).trimEnd()}\n\n### ${connections.toLocaleString('en-US')} sockets\n\n${section}\n${doc.slice(insertAt)}`;
  } else next = `${doc.trimEnd()}\n\n${heading}\n\n### ${connections.toLocaleString('en-US')} sockets\n\n${section}\n`;
  writeFileSync(path, next);
}

function parseVariant(spec: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of spec.split(',').filter(Boolean)) {
    const eq = pair.indexOf('=');
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

export async function runPeer(options: LoadOptions): Promise<void> {
  const started = new Date();
  const accounts = Math.ceil(options.connections / options.perUser);
  mkdirSync(`${ROOT}.data/peer`, { recursive: true });
  say('peer: Centrifugo and the Go client (built once into .data/bin)…');
  await Promise.all([ensureCentrifugo(say), ensurePeerClient()]);

  const redis: PeerProcess = await startRunRedis();
  try {
    const redisUrl = `redis://127.0.0.1:${redis.port}/0`;
    // Slots to spare, so a round's last releases still in flight never refuse the next round.
    const limit = String(options.perUser * 2);
    const targets: Target[] = [];
    const socketUrl = (url: string) => `${url.replace('http://', 'ws://')}/v1/stream`;
    const vigil = async (env: Record<string, string>): Promise<Running> => {
      const gateway = await spawnLoadGateway(options.perUser, false, {
        REDIS_URL: redisUrl,
        VIGIL_WS_MAX_CONNECTIONS_PER_USER: limit,
        ...env,
      });
      return { pid: gateway.child.pid!, socketUrl: socketUrl(gateway.url), stop: () => gateway.stop() };
    };
    say(`peer: ${accounts} accounts through Vigil's HTTP API…`);
    const preparing = await spawnLoadGateway(options.perUser, false, { REDIS_URL: redisUrl });
    const sessions = await prepareSessions({
      baseUrl: preparing.url,
      key: 'peer',
      count: accounts,
      file: options.accountsFile,
    }).finally(() => preparing.stop());
    const perSocket = (tokenOf: (account: number) => string) =>
      Array.from({ length: options.connections }, (_, i) => tokenOf(Math.floor(i / options.perUser))).join('\n');
    const vigilTokens = `${ROOT}.data/peer/vigil-tokens.txt`;
    writeFileSync(
      vigilTokens,
      perSocket((a) => sessions[a]!.accessToken),
    );
    const vigilWarmTokens = `${ROOT}.data/peer/vigil-warm-tokens.txt`;
    writeFileSync(vigilWarmTokens, sessions.map((session) => session.accessToken).join('\n'));
    targets.push({
      name: 'vigil',
      kind: 'vigil',
      tokensFile: vigilTokens,
      warmTokensFile: vigilWarmTokens,
      usesRedis: true,
      start: () => vigil({}),
    });
    if (options.variant) {
      const env = parseVariant(options.variant);
      targets.push({
        name: `vigil (${options.variant})`,
        kind: 'vigil',
        tokensFile: vigilTokens,
        warmTokensFile: vigilWarmTokens,
        usesRedis: true,
        start: () => vigil(env),
      });
    }

    const secret = randomBytes(32).toString('hex');
    const key = new TextEncoder().encode(secret);
    const expires = Math.floor(Date.now() / 1000) + 3 * 3600;
    const centrifugoTokens: string[] = [];
    for (let a = 0; a < accounts; a++)
      centrifugoTokens.push(
        await new SignJWT({ sub: `peer-user-${a}` }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(expires).sign(key),
      );
    const centrifugoTokensFile = `${ROOT}.data/peer/centrifugo-tokens.txt`;
    writeFileSync(
      centrifugoTokensFile,
      perSocket((a) => centrifugoTokens[a]!),
    );
    const centrifugoWarmTokens = `${ROOT}.data/peer/centrifugo-warm-tokens.txt`;
    writeFileSync(centrifugoWarmTokens, centrifugoTokens.join('\n'));
    targets.push({
      name: 'centrifugo',
      kind: 'centrifugo',
      tokensFile: centrifugoTokensFile,
      warmTokensFile: centrifugoWarmTokens,
      usesRedis: false,
      start: async () => {
        const server = await startCentrifugo(secret);
        return { pid: server.pid, socketUrl: `ws://127.0.0.1:${server.port}/connection/websocket`, stop: () => server.stop() };
      },
    });

    // Each round starts every server afresh, warms it up off the books (JIT, pools, the
    // verified-token cache: one full verification per account), then measures.
    const warm = { ...options, connections: Math.min(options.connections, 1_000), upstream: 0, duration: 1, settle: 0 };
    const rounds: PeerRound[] = [];
    for (let r = 1; r <= options.rounds; r++) {
      const order = r % 2 ? targets : [...targets].reverse();
      for (const target of order) {
        const running = await target.start();
        let result: PeerRound;
        try {
          await measureRound(target, running, redis.pid, warm, 0, target.warmTokensFile);
          result = await measureRound(target, running, redis.pid, options, r);
        } finally {
          await running.stop();
        }
        rounds.push(result);
        say(
          `round ${r} ${target.name}: ${result.ready}/${options.connections} ready (${result.failed} failed${result.firstError ? `: ${result.firstError}` : ''}), ` +
            `${result.connectsPerSecond}/s, p99 ${result.latencyMs.p99} ms, server ${result.serverCpuUsPerConnect} µs + Redis ${result.redisCpuUsPerConnect} µs per connect, ` +
            `client ${result.clientCpuPercent} % of a core, ${result.rssPerSocketKiB} KiB/socket` +
            (result.upstream
              ? `, upstream ${result.upstream.sentPerSecond}/s at ${result.upstream.serverCpuUsPerMessage} µs/message`
              : ''),
        );
      }
    }
    const summaries = targets.map((t) =>
      summarize(
        t.name,
        rounds.filter((r) => r.target === t.name),
      ),
    );
    const redisVersion = /v=(\S+)/.exec(
      await new Promise<string>((resolve) => {
        const child = spawn('redis-server', ['--version']);
        let out = '';
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        child.once('exit', () => resolve(out));
      }),
    )?.[1];
    const goVersion = await new Promise<string>((resolve) => {
      const child = spawn('go', ['env', 'GOVERSION']);
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.once('exit', () => resolve(out.trim()));
    });
    const versions = `Node ${process.version}, Vigil (this commit), uWebSockets.js 20.30.0-unofficial.0, Centrifugo v${CENTRIFUGO_VERSION} (CGO_ENABLED=0, ${goVersion}), Redis ${redisVersion ?? '?'}, client ${goVersion} + gorilla/websocket 1.5.3`;
    const text = report(options, started, summaries, rounds, versions);
    if (options.json) process.stdout.write(`${JSON.stringify({ options, summaries, rounds }, null, 2)}\n`);
    else process.stdout.write(`\n${text}\n`);
    if (summaries.every((s) => s.rounds > 0)) writeSection(options.connections, text);
  } finally {
    await redis.stop();
  }
}
