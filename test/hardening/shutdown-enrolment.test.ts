import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WAIT_POLL_MS } from '../../src/biometrics/biometric-service.ts';
import { sendSamples } from '../continuous/support.ts';
import { enrolmentPart } from '../continuous/wisdm.ts';
import { TestSocket, login, startNode, type Node } from '../realtime/support.ts';
import { testConfig } from '../support/config.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { startMongoCommandCut, type MongoCommandCut } from './support/mongo-command-cut.ts';

// A committed socket enrolment is followed (its record read every second) until training ends, to
// tell the socket. No training worker runs here, so every enrolment stays queued and its follow
// keeps reading. The follow must end with its socket (nobody is left to tell), and the gateway's
// close must stop it and wait for its last read before closing MongoDB: no read on a closed
// client, no error logged, nothing rejected unhandled in this process (where the gateway runs).
let proxy: MongoCommandCut;
let gw: TestGateway;
let node: Node;
const logged: Array<{ level: number; msg: string; err?: { type?: string } }> = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
const sockets: TestSocket[] = [];

beforeAll(async () => {
  const base = testConfig();
  const upstream = new URL(base.MONGO_URL);
  proxy = await startMongoCommandCut({ host: upstream.hostname, port: Number(upstream.port || 27017) });
  const logs = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logged.push(JSON.parse(chunk.toString()) as (typeof logged)[number]);
      done();
    },
  });
  gw = await startTestGateway(
    {
      MONGO_DB: base.MONGO_DB!,
      REDIS_PREFIX: base.REDIS_PREFIX,
      MONGO_URL: proxy.url(base.MONGO_URL),
      VIGIL_EMBEDDED_WORKERS: 'false',
    },
    { logger: pino({ level: 'warn' }, logs) },
  );
  node = await startNode({ ...gw.config, MONGO_URL: base.MONGO_URL });
  process.on('unhandledRejection', onUnhandled);
}, 60_000);

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  for (const socket of sockets) socket.close();
  await node?.close();
  await gw?.close();
  await proxy?.close();
});

/** A socket of a new user whose enrolment is committed and queued (and stays queued). */
async function queuedEnrolment(user: string): Promise<TestSocket> {
  const socket = new TestSocket(gw.url, { token: (await login(node, `${user}-${process.pid}`)).accessToken });
  sockets.push(socket);
  await socket.next('ready');
  socket.sendJson({ type: 'enroll.begin', stream: 2, modality: 'motion', rate: 20, channels: ['x', 'y', 'z'] });
  sendSamples(socket, 2, await enrolmentPart('1612'), 0, 50);
  socket.sendJson({ type: 'enroll.commit', stream: 2 });
  for (;;) {
    const progress = await socket.until('enroll.progress', 30_000);
    if (progress.stage === 'queued') return socket;
  }
}

const enrolmentReads = () => proxy.sent.filter((c) => c.name === 'find' && c.collection === 'enrollments').length;
const pollsLater = (n: number) => new Promise((resolve) => setTimeout(resolve, n * WAIT_POLL_MS + WAIT_POLL_MS / 2));

describe('following a committed socket enrolment', () => {
  it('reads the enrolment while its socket is open and stops once the socket is gone', async () => {
    const socket = await queuedEnrolment('gone');
    const before = enrolmentReads();
    await pollsLater(2);
    expect(enrolmentReads()).toBeGreaterThan(before); // it does follow

    socket.close();
    await socket.closed;
    await pollsLater(1); // a read already sent when the socket went may still arrive
    const after = enrolmentReads();
    await pollsLater(3);
    expect(enrolmentReads()).toBe(after);
  }, 60_000);

  it('is stopped by the gateway’s close before MongoDB is closed: no error logged, nothing unhandled', async () => {
    await queuedEnrolment('closing');
    logged.length = 0;
    await gw.gateway.close();
    await pollsLater(3);
    expect(logged.filter((line) => line.level >= 50).map((line) => `${line.msg}: ${line.err?.type}`)).toEqual([]);
    expect(unhandled).toEqual([]);
  }, 60_000);
});
