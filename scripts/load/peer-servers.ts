import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/*
 * The processes a peer run starts: Centrifugo (built once from the Go module proxy into
 * .data/bin), the Go load client, and a Redis of its own, so Redis CPU per connect counts only
 * this run's commands (the shared development Redis also serves other test suites).
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = `${ROOT}.data/bin`;
export const CENTRIFUGO_VERSION = '6.9.1';
export const CENTRIFUGO_BIN = `${BIN}/centrifugo`;
export const PEER_CLIENT_BIN = `${BIN}/peer-client`;
const run = promisify(execFile);

/** Runs a noisy build, showing its output only if it fails (like scripts/services.sh). */
async function quietly(file: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv }): Promise<void> {
  try {
    await run(file, args, { ...options, maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: string; stderr?: string };
    throw new Error(`${file} ${args.join(' ')} failed:\n${stdout ?? ''}${stderr ?? ''}`, { cause: err });
  }
}

async function centrifugoVersion(): Promise<string | undefined> {
  if (!existsSync(CENTRIFUGO_BIN)) return undefined;
  // `centrifugo version` says 0.0.0 when built with go install (releases set it by linker flag); the module version is in the build info.
  const { stdout } = await run('go', ['version', '-m', CENTRIFUGO_BIN]).catch(() => ({ stdout: '' }));
  return /\bmod\s+github\.com\/centrifugal\/centrifugo\/v6\s+v(\S+)/.exec(stdout)?.[1];
}

/** Idempotent: builds Centrifugo into .data/bin only when that version is not there yet. */
export async function ensureCentrifugo(say: (line: string) => void): Promise<void> {
  if ((await centrifugoVersion()) === CENTRIFUGO_VERSION) return;
  say(`building Centrifugo v${CENTRIFUGO_VERSION} from the Go module proxy into .data/bin (once; a few minutes)…`);
  mkdirSync(BIN, { recursive: true });
  await quietly('go', ['install', `github.com/centrifugal/centrifugo/v6@v${CENTRIFUGO_VERSION}`], {
    env: { ...process.env, CGO_ENABLED: '0', GOBIN: BIN },
  });
  const built = await centrifugoVersion();
  if (built !== CENTRIFUGO_VERSION) throw new Error(`.data/bin/centrifugo reports version ${built ?? 'none'}`);
}

/** Builds the Go load client when its source is newer than the binary. */
export async function ensurePeerClient(): Promise<void> {
  const source = `${ROOT}bench/peer-client`;
  const newest = Math.max(...['main.go', 'go.mod', 'go.sum'].map((f) => statSync(`${source}/${f}`).mtimeMs));
  if (existsSync(PEER_CLIENT_BIN) && statSync(PEER_CLIENT_BIN).mtimeMs >= newest) return;
  mkdirSync(BIN, { recursive: true });
  await quietly('go', ['build', '-o', PEER_CLIENT_BIN, '.'], { cwd: source, env: { ...process.env, CGO_ENABLED: '0' } });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, name: string): Promise<void> {
  const { connect } = await import('node:net');
  for (let i = 0; i < 150; i++) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${name} did not listen on 127.0.0.1:${port}`);
}

export interface PeerProcess {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

function stopper(child: ChildProcess): () => Promise<void> {
  const kill = () => child.kill('SIGTERM');
  process.once('exit', kill);
  return () =>
    new Promise<void>((resolve) => {
      process.off('exit', kill);
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
}

/** A Redis for this run only, configured as scripts/services.sh configures the development one. */
export async function startRunRedis(): Promise<PeerProcess> {
  const port = await freePort();
  const dir = `${ROOT}.data/peer-redis`;
  mkdirSync(dir, { recursive: true });
  const redis = spawn('redis-server', [
    '--bind',
    '127.0.0.1',
    '--port',
    String(port),
    '--dir',
    dir,
    '--appendonly',
    'yes',
    '--appenddirname',
    `aof-${port}`,
    '--save',
    '',
    '--maxmemory-policy',
    'noeviction',
    '--loglevel',
    'warning',
  ]);
  redis.stdout.resume();
  redis.stderr.resume();
  await waitForPort(port, redis, 'redis-server');
  return { pid: redis.pid!, port, stop: stopper(redis) };
}

/** Centrifugo with HS256 connection tokens, the JSON protocol and loopback only. */
export async function startCentrifugo(hmacSecret: string): Promise<PeerProcess> {
  const port = await freePort();
  const dir = `${ROOT}.data/peer`;
  mkdirSync(dir, { recursive: true });
  const config = `${dir}/centrifugo.json`;
  writeFileSync(
    config,
    JSON.stringify(
      {
        client: { token: { hmac_secret_key: hmacSecret }, allowed_origins: ['*'] },
        channel: { without_namespace: { allow_publish_for_client: true } },
        http_server: { address: '127.0.0.1', port },
        log: { level: 'error' },
      },
      null,
      1,
    ),
  );
  const child = spawn(CENTRIFUGO_BIN, ['--config', config], { cwd: dir });
  let output = '';
  const keep = (chunk: Buffer) => {
    if (output.length < 16_000) output += chunk.toString();
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  try {
    await waitForPort(port, child, 'centrifugo');
  } catch (err) {
    throw new Error(`${(err as Error).message}:\n${output}`, { cause: err });
  }
  return { pid: child.pid!, port, stop: stopper(child) };
}

/** CPU seconds (user + system, all threads) and RSS of a process, from /proc. */
export function processSample(pid: number): { cpuSeconds: number; rssBytes: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at ")".
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rssPages = Number(fields[21]);
  return { cpuSeconds: ticks / 100, rssBytes: rssPages * 4096 };
}
