import { moduleOf } from '../support/modules.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EnrollmentEvent } from '../../src/biometrics/enrollment/enrollment-events.ts';
import { configEnv } from '../support/config.ts';
import type { TestGateway } from '../support/gateway.ts';
import { newUser, send, settled, slice, startBiometricGateway, toCsv, walking } from './support.ts';

// VIGIL_EMBEDDED_WORKERS=0: the gateway only queues training; workers/main.ts, another process,
// trains. Its enrolment events reach the gateway's service over Redis pub/sub (what the socket
// channel forwards as enroll.progress / enroll.ready).
const WORKER = fileURLToPath(new URL('../../workers/main.ts', import.meta.url));
let gw: TestGateway;
let worker: ChildProcess | undefined;
let output = '';

beforeAll(async () => {
  gw = await startBiometricGateway({ VIGIL_EMBEDDED_WORKERS: '0' });
});
afterAll(async () => {
  if (worker && worker.exitCode === null) {
    const exited = new Promise((resolve) => worker!.once('exit', resolve));
    worker.kill('SIGTERM');
    await exited;
  }
  await gw.close();
});

describe('training in workers/main.ts', () => {
  it('stays queued without a worker, trains once one runs, and the gateway hears every step', async () => {
    const biometrics = moduleOf(gw, 'biometrics');
    const heard: EnrollmentEvent[] = [];
    const off = biometrics.service.onEnrollmentEvent((event) => heard.push(event));
    const user = await newUser(gw.url);
    const walk = (await walking()).get('1612')!;
    const reply = await send<{ enrollmentId: string }>(
      gw.url,
      'POST',
      '/v1/biometrics/enrollments?rate=20',
      user,
      toCsv(slice(walk, 0, 1000)),
      'text/csv',
    );
    expect(reply.status).toBe(202);
    const id = reply.body.enrollmentId;
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await send(gw.url, 'GET', `/v1/biometrics/enrollments/${id}`, user)).body).toMatchObject({
      status: 'queued',
      progress: 0,
    });

    worker = spawn(process.execPath, ['--import', 'tsx', WORKER], {
      env: { ...process.env, ...configEnv(gw.config), LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worker.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    worker.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));

    const view = await biometrics.service.waitForEnrollment(user.userId, id, 60_000);
    expect(view, output).toMatchObject({ status: 'ready', modelVersion: 1, progress: 1 });
    expect(await settled(gw.url, user, id)).toMatchObject({ status: 'ready' });
    off();
    const statuses = heard.filter((e) => e.enrollmentId === id).map((e) => e.status);
    expect(statuses[0]).toBe('queued');
    expect(statuses).toContain('training');
    expect(statuses.at(-1)).toBe('ready');

    // 'close', not 'exit': only then has everything the worker wrote come through its pipes (the
    // log line of the job could still be in flight when the job's result reached Redis).
    const closed = new Promise<number | null>((resolve) => worker!.once('close', (code) => resolve(code)));
    worker.kill('SIGTERM');
    expect(await closed).toBe(0);
    expect(output).toContain('"queues":["training","delivery"]');
    expect(output).toContain('"msg":"model trained"');
  });
});
