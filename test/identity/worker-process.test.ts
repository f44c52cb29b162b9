import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configEnv } from '../support/config.ts';
import type { TestGateway } from '../support/gateway.ts';
import { client, codeIn, outbox, sleep, startIdentityGateway, type Client } from './support.ts';

// The gateway with VIGIL_EMBEDDED_WORKERS=0 only queues; workers/main.ts, a separate process,
// delivers. Nothing arrives until the worker runs.
const WORKER = fileURLToPath(new URL('../../workers/main.ts', import.meta.url));
let gw: TestGateway;
let api: Client;
let worker: ChildProcess | undefined;
let output = '';

beforeAll(async () => {
  gw = await startIdentityGateway({ VIGIL_EMBEDDED_WORKERS: '0' });
  api = client(gw.url);
});

afterAll(async () => {
  if (worker && worker.exitCode === null) {
    const exited = new Promise((resolve) => worker!.once('exit', resolve));
    worker.kill('SIGTERM');
    await exited;
  }
  await gw.close();
});

describe('workers/main.ts', () => {
  it('delivers what the gateway queued, and stops cleanly on SIGTERM', async () => {
    await api.post('/v1/accounts', { phone: '01080000001', password: 'passphrase 12' });
    expect((await api.post('/v1/codes', { channel: 'sms', to: '01080000001', purpose: 'login' })).status).toBe(202);
    await sleep(500);
    expect((await api.get('/v1/dev/outbox?to=%2B821080000001')).body).toEqual([]);

    worker = spawn(process.execPath, ['--import', 'tsx', WORKER], {
      env: { ...process.env, ...configEnv(gw.config), LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worker.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    worker.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));

    const [sms] = await outbox(api, '+821080000001', 1, 20_000);
    expect(codeIn(sms!.text)).toMatch(/^\d{6}$/);
    expect(output).toContain('"msg":"workers running"');

    const exited = new Promise<number | null>((resolve) => worker!.once('exit', (code) => resolve(code)));
    worker.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
