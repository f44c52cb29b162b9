import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { STREAM_PATH, STREAM_SUBPROTOCOL, type ServerMessage } from '../../protocol/messages.ts';
import type { Config } from '../../src/config/schema.ts';
import { configEnv, testConfig } from '../support/config.ts';
import { dropTestData } from '../support/gateway.ts';
import { signUpMember } from './support/accounts.ts';
import { CLUSTER_ENV, eventually, sleep } from './support/cluster.ts';

// `npm start`'s entry with VIGIL_PROCESSES=2: one supervisor, two gateway processes on one port
// (SO_REUSEPORT). Both answer HTTP and hold sockets; a session revoked through either closes its
// sockets on both; a killed process is replaced while the port keeps answering; SIGTERM drains
// both and the supervisor exits 0.
const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
let config: Config;
let supervisor: ChildProcess;
let exited: Promise<number | null>;
let output = '';
let base: string;

beforeAll(async () => {
  config = testConfig({ ...CLUSTER_ENV, VIGIL_EMBEDDED_WORKERS: '1' });
  supervisor = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    env: { ...process.env, ...configEnv(config), LOG_LEVEL: 'info', VIGIL_PROCESSES: '2' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  exited = new Promise((resolve) => supervisor.once('exit', (code) => resolve(code)));
  const collect = (chunk: Buffer) => {
    if (output.length < 4_000_000) output += chunk.toString();
  };
  supervisor.stdout!.on('data', collect);
  supervisor.stderr!.on('data', collect);
  const port = await eventually(
    () =>
      /"port":(\d+).*"msg":"supervising gateway processes"/.exec(output)?.[1] ??
      (supervisor.exitCode !== null ? 'exited' : undefined),
    60_000,
    'the supervisor reporting both processes listening',
  );
  if (port === 'exited') throw new Error(`the supervisor exited:\n${output}`);
  base = `http://127.0.0.1:${port}`;
}, 90_000);

afterAll(async () => {
  if (supervisor && supervisor.exitCode === null && supervisor.signalCode === null) {
    supervisor.kill('SIGKILL');
    // The gateway processes drain on their own once the supervisor's IPC channel is gone.
    await exited;
  }
  if (config) await dropTestData(config);
});

/** One GET on a fresh TCP connection, so the kernel picks a process anew for each. */
function freshGet(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The process a fresh connection reached: its instance id and pid, from its own /metrics. */
async function instanceAnswering(): Promise<{ instance: string; pid: number }> {
  const { status, body } = await freshGet('/metrics');
  expect(status).toBe(200);
  const match = /vigil_instance_info\{instance="([0-9a-f]+)",pid="(\d+)"\} 1/.exec(body);
  if (!match) throw new Error(`no vigil_instance_info in /metrics:\n${body.slice(0, 500)}`);
  return { instance: match[1]!, pid: Number(match[2]) };
}

/** Scrapes over fresh connections until `wanted` distinct processes have answered (bounded). */
async function processesAnswering(wanted: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < 200 && seen.size < wanted; i++) {
    const { instance, pid } = await instanceAnswering();
    seen.set(instance, pid);
  }
  return seen;
}

interface Socket {
  ws: WebSocket;
  ready: ServerMessage;
  closed: Promise<{ code: number; reason: string }>;
}

function openSocket(token: string): Promise<Socket> {
  const ws = new WebSocket(base.replace(/^http/, 'ws') + STREAM_PATH, [STREAM_SUBPROTOCOL], {
    headers: { authorization: `Bearer ${token}` },
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  return new Promise((resolve, reject) => {
    ws.once('message', (data) => resolve({ ws, ready: JSON.parse((data as Buffer).toString()) as ServerMessage, closed }));
    ws.once('close', (code) => reject(new Error(`socket closed with ${code} before ready`)));
    ws.once('error', reject);
  });
}

const instanceOf = (socket: Socket) => {
  expect(socket.ready.type).toBe('ready');
  return (socket.ready as { connectionId: string }).connectionId.split('-')[0]!;
};

describe('VIGIL_PROCESSES=2: one entry, two gateway processes on one port', () => {
  it('answers HTTP from both processes, neither of them the supervisor', async () => {
    const seen = await processesAnswering(2);
    expect(seen.size).toBe(2);
    expect([...seen.values()]).not.toContain(supervisor.pid);
    expect(new Set(seen.values()).size).toBe(2);
    expect(output.match(/"msg":"gateway process listening"/g)).toHaveLength(2);
  });

  it('holds sockets on both processes, and a logout through either closes those on both', async () => {
    const member = await signUpMember(base, 'core');
    const sockets: Socket[] = [];
    // The kernel spreads connections by their addresses; a few are enough to reach both.
    for (let i = 0; i < 40 && new Set(sockets.map(instanceOf)).size < 2; i++) sockets.push(await openSocket(member.accessToken));
    const holders = new Set(sockets.map(instanceOf));
    expect(holders.size).toBe(2);

    const logout = await fetch(`${base}/v1/sessions/current`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${member.accessToken}` },
    });
    expect(logout.status).toBe(200);
    // Whichever process served the logout, the other one's sockets close through Redis pub/sub.
    const closes = await Promise.all(sockets.map((s) => Promise.race([s.closed, sleep(5_000).then(() => undefined)])));
    expect(closes).toEqual(sockets.map(() => ({ code: 4520, reason: 'TOKEN_REVOKED' })));
  });

  it('replaces a killed process while the port keeps answering', async () => {
    const before = await processesAnswering(2);
    const [victimInstance, victimPid] = [...before.entries()][0]!;
    const survivor = [...before.keys()].find((id) => id !== victimInstance)!;
    process.kill(victimPid, 'SIGKILL');
    await eventually(() => output.includes('"msg":"gateway process died; restarting"'), 10_000, 'the supervisor noticing');
    // Its listener left the port's group with it: every new connection reaches a live process.
    for (let i = 0; i < 20; i++) expect((await freshGet('/readyz')).status).toBe(200);
    await eventually(() => output.match(/"msg":"gateway process listening"/g)?.length === 3, 60_000, 'the replacement listening');
    const after = await processesAnswering(2);
    expect(after.size).toBe(2);
    expect(after.has(survivor)).toBe(true);
    expect(after.has(victimInstance)).toBe(false);
    expect([...after.values()]).not.toContain(victimPid);
  });

  it('drains every process on SIGTERM and exits 0', async () => {
    supervisor.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output.match(/"msg":"stopped"/g)).toHaveLength(2);
    expect(output).toContain('"msg":"all gateway processes stopped"');
    await expect(freshGet('/healthz')).rejects.toThrow();
  });
});

describe('VIGIL_PROCESSES=2 when the processes cannot start', () => {
  it('stops and exits 1 instead of restarting them forever', async () => {
    // A listener without SO_REUSEPORT holds the port: no gateway process can join it.
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as { port: number };
    const failing = testConfig({ ...CLUSTER_ENV, PORT: String(port) });
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
      env: { ...process.env, ...configEnv(failing), LOG_LEVEL: 'info', VIGIL_PROCESSES: '2' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stdout.on('data', (chunk: Buffer) => (log += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
    try {
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code).toBe(1);
      expect(log).toContain(`Cannot listen on 127.0.0.1:${port}`);
      expect(log).toContain('"msg":"a gateway process failed to start"');
      expect(log).not.toContain('"msg":"gateway process died; restarting"');
    } finally {
      child.kill('SIGKILL');
      holder.close();
      await dropTestData(failing);
    }
  }, 60_000);
});
