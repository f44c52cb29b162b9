import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A free TCP port on loopback (bound and released; fine for tests on one machine). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, name: string): Promise<void> {
  const { connect } = await import('node:net');
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${name} did not listen on ${port}`);
}

/**
 * A private server process a test may stop and restart at will (fault tests must never touch
 * the shared servers other test files are using).
 */
export interface PrivateServer {
  url: string;
  port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it and removes its data. */
  destroy(): Promise<void>;
}

function privateServer(name: string, port: number, dir: string, command: () => [string, string[]], url: string): PrivateServer {
  let child: ChildProcess | undefined;
  const server: PrivateServer = {
    url,
    port,
    async start() {
      const [bin, args] = command();
      child = spawn(bin, args, { stdio: 'ignore' });
      await waitForPort(port, child, name);
    },
    async stop() {
      if (!child || child.exitCode !== null) return;
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
    async destroy() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

/**
 * `persistent`: an append-only file fsynced on every write (production runs Redis append-only
 * too, docker-compose.yml), so a stop and start keeps every acknowledged write.
 */
export async function startPrivateRedis(options: { persistent?: boolean } = {}): Promise<PrivateServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'vigil-redis-'));
  const persistence = options.persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const server = privateServer(
    'redis-server',
    port,
    dir,
    () => [
      'redis-server',
      [
        '--bind',
        '127.0.0.1',
        '--port',
        String(port),
        '--save',
        '',
        ...persistence,
        '--dir',
        dir,
        '--maxmemory-policy',
        'noeviction',
      ],
    ],
    `redis://127.0.0.1:${port}/0`,
  );
  await server.start();
  return server;
}

const FERRETDB = fileURLToPath(new URL('../../.data/bin/ferretdb', import.meta.url));

export async function startPrivateFerretDb(): Promise<PrivateServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'vigil-ferretdb-'));
  const server = privateServer(
    'ferretdb',
    port,
    dir,
    () => [FERRETDB, ['--listen', `127.0.0.1:${port}`, '--dir', dir]],
    `mongodb://127.0.0.1:${port}/vigil`,
  );
  await server.start();
  return server;
}
