import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerMessageOf } from '../../protocol/messages.ts';
import type { SampleSet } from '../../src/biometrics/samples.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { TestSocket, login, startNode, type Node } from '../realtime/support.ts';
import { enrolCohort, enrolSubject, eventually, sendSamples } from './support.ts';
import { enrolmentPart, testPart } from './wisdm.ts';

// Enrolment over the socket: enroll.begin → frames → enroll.commit → a BullMQ training job →
// enroll.progress / enroll.ready on the same socket, and the new model verifies this socket's
// (and the user's other sockets') streams without reconnecting. A later version replaces it live.

const USER = `socket-enrolee-${process.pid}`;
let gw: TestGateway;
let node: Node;
let enrolment: SampleSet;
let held: SampleSet;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  gw = await startTestGateway({ VIGIL_CV_BATCH_DEADLINE_MS: '2' });
  node = await startNode(gw.config);
  await enrolCohort(gw);
  enrolment = await enrolmentPart('1611');
  held = await testPart('1611');
}, 240_000);

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await node?.close();
  await gw?.close();
});

async function connect(user = USER): Promise<{ socket: TestSocket; ready: ServerMessageOf<'ready'> }> {
  const socket = new TestSocket(gw.url, { token: (await login(node, user)).accessToken });
  sockets.push(socket);
  return { socket, ready: await socket.next('ready') };
}

const ofType = <T extends ServerMessageOf<'verdict' | 'enroll.progress' | 'model' | 'error'>['type']>(
  socket: TestSocket,
  type: T,
) => socket.messages.filter((m): m is ServerMessageOf<T> => m.type === type);

describe('socket enrolment', () => {
  it('enrols over the socket and verifies with the new model on the same sockets, without reconnecting', async () => {
    const { socket, ready } = await connect();
    const other = await connect(); // a second device of the user, connected before any model exists
    expect(ready.model).toBeNull();
    expect(other.ready.model).toBeNull();

    socket.sendJson({ type: 'enroll.begin', stream: 7, modality: 'motion', rate: 20, channels: ['x', 'y', 'z'] });
    sendSamples(socket, 7, enrolment, 0, 50);
    const windows = Math.floor((enrolment.length - 50) / 25) + 1;
    await eventually(() => ofType(socket, 'enroll.progress').at(-1)?.windows === windows, 'collecting progress');
    const collecting = ofType(socket, 'enroll.progress');
    expect(collecting.every((p) => p.stage === 'collecting' && p.stream === 7)).toBe(true);
    expect(collecting.at(-1)!.progress).toBe(1);

    socket.sendJson({ type: 'enroll.commit', stream: 7 });
    const done = await socket.until('enroll.ready', 60_000);
    expect(done).toEqual({
      type: 'enroll.ready',
      stream: 7,
      modelVersion: 1,
      model: { version: 1, modality: 'motion', channels: ['x', 'y', 'z'], rate: 20, window: 2.5, hop: 1.25 },
    });
    const stages = ofType(socket, 'enroll.progress').map((p) => p.stage);
    expect(stages).toContain('queued');
    expect(stages.indexOf('queued')).toBeGreaterThan(stages.lastIndexOf('collecting'));
    expect(ofType(socket, 'model').at(-1)).toMatchObject({ model: { version: 1 } });
    await eventually(() => ofType(other.socket, 'model').length > 0, 'the other socket to hear of the model');
    expect(ofType(other.socket, 'model')[0]).toMatchObject({ model: { version: 1 } });

    // Both sockets verify right away with version 1.
    for (const s of [socket, other.socket]) {
      s.sendJson({ type: 'stream.open', stream: 1, rate: 20, channels: ['x', 'y', 'z'] });
      sendSamples(s, 1, held, 0);
    }
    const total = Math.floor((held.length - 50) / 25) + 1;
    await eventually(
      () => ofType(socket, 'verdict').length === total && ofType(other.socket, 'verdict').length === total,
      'verdicts',
    );
    for (const s of [socket, other.socket]) {
      const got = ofType(s, 'verdict');
      expect(got.every((v) => v.modelVersion === 1)).toBe(true);
      expect(got.map((v) => v.decision)).not.toContain('impostor');
      expect(got.at(-1)!.decision).toBe('genuine');
    }
    expect(ofType(socket, 'error')).toEqual([]);
  });

  it('moves a live stream to a newer version the moment it is ready', async () => {
    const { socket, ready } = await connect();
    expect(ready.model?.version).toBe(1);
    socket.sendJson({ type: 'stream.open', stream: 1, rate: 20, channels: ['x', 'y', 'z'] });
    const seq = sendSamples(socket, 1, { ...held, data: held.data.subarray(0, 100 * 3), length: 100 }, 0);
    await eventually(() => ofType(socket, 'verdict').length === 3, 'verdicts of version 1');
    // A re-enrolment (here over HTTP, from another device) trains version 2 ...
    expect(await enrolSubject(gw, USER, '1611')).toBe(2);
    await eventually(() => ofType(socket, 'model').some((m) => m.model?.version === 2), 'the model message');
    // ... and the same stream, same socket, is now scored by it.
    sendSamples(socket, 1, { ...held, data: held.data.subarray(100 * 3, 200 * 3), length: 100 }, seq);
    await eventually(() => ofType(socket, 'verdict').length === 7, 'verdicts of version 2');
    expect(ofType(socket, 'verdict').map((v) => v.modelVersion)).toEqual([1, 1, 1, 2, 2, 2, 2]);
    expect(ofType(socket, 'verdict').map((v) => v.window)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('reports an enrolment too small to train as enroll.failed', async () => {
    // A first enrolment: replacing USER's model would need a re-authentication first (model-replace.test.ts).
    const { socket } = await connect(`${USER}-small`);
    socket.sendJson({ type: 'enroll.begin', stream: 9, modality: 'motion', rate: 20, channels: ['x', 'y', 'z'] });
    sendSamples(socket, 9, { ...enrolment, data: enrolment.data.subarray(0, 100 * 3), length: 100 }, 0);
    socket.sendJson({ type: 'enroll.commit', stream: 9 });
    const failed = await socket.until('enroll.failed');
    expect(failed).toMatchObject({ stream: 9, code: 'ENROLLMENT_TOO_SMALL' });
  });
});
