import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame } from '../../protocol/frames.ts';
import type { ServerMessageOf } from '../../protocol/messages.ts';
import { TestSocket, login, startNode, type Node } from '../realtime/support.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';

// Memory a client can make the gateway hold through socket enrolment: a buffer sized by the
// client's rate × channels × window, allocated before anything was admitted, kept after
// enroll.begin failed, and appends queued without backpressure. Each is bounded now.

let gw: TestGateway;
let node: Node;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  gw = await startTestGateway({ VIGIL_BIOMETRIC_ENROLLMENTS_PER_HOUR: '1' });
  node = await startNode(gw.config);
});

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await node?.close();
  await gw?.close();
});

async function connect(userId?: string): Promise<TestSocket> {
  const socket = new TestSocket(gw.url, { token: (await login(node, userId)).accessToken });
  sockets.push(socket);
  await socket.next('ready');
  return socket;
}

async function errorFor(socket: TestSocket, ref: string): Promise<ServerMessageOf<'error'>> {
  for (;;) {
    const error = await socket.until('error', 10_000);
    if (error.ref === ref) return error;
  }
}

const begin = (socket: TestSocket, stream: number, rate = 20, channels = ['x', 'y', 'z']) =>
  socket.sendJson({ type: 'enroll.begin', stream, modality: 'motion', rate, channels });

describe('bounded socket enrolment', () => {
  it('refuses an enroll.begin whose window would need a huge buffer (rate 10,000 × 64 channels), naming the field', async () => {
    const socket = await connect();
    begin(
      socket,
      1,
      10_000,
      Array.from({ length: 64 }, (_, i) => `c${i}`),
    );
    const refused = await errorFor(socket, 'enroll.begin');
    expect(refused).toMatchObject({ code: 'VALIDATION_FAILED', stream: 1 });
    expect(refused.message).toMatch(/rate × channels × window/);
  });

  it('admits one enrolment per connection at a time', async () => {
    const socket = await connect();
    begin(socket, 1);
    begin(socket, 2);
    const refused = await errorFor(socket, 'enroll.begin');
    expect(refused).toMatchObject({ code: 'STREAM_REFUSED', stream: 2 });
  });

  it('a failed enroll.begin ends its stream: frames in flight are dropped, the slot is free, the socket stays', async () => {
    const user = `bounded-${process.pid}`;
    const first = await connect(user);
    begin(first, 1); // spends the account's one enrolment this hour
    first.sendJson({ type: 'enroll.cancel', stream: 1 });
    const socket = await connect(user);
    begin(socket, 5);
    const frame = encodeFrame({ stream: 5, seq: 0, timestamp: Date.now(), channels: 3, values: new Float32Array(75) });
    socket.ws.send(frame);
    const failed = await socket.until('enroll.failed', 10_000);
    expect(failed).toMatchObject({ stream: 5, code: 'RATE_LIMITED' });
    socket.ws.send(encodeFrame({ stream: 5, seq: 1, timestamp: Date.now(), channels: 3, values: new Float32Array(75) }));
    socket.sendJson({ type: 'enroll.commit', stream: 5 });
    const gone = await errorFor(socket, 'enroll.commit');
    expect(gone).toMatchObject({ code: 'STREAM_REFUSED', message: expect.stringMatching(/not open/) });
    expect(socket.ws.readyState).toBe(1);
  });

  it('refuses frames while appends are still being stored, instead of queueing copies without bound', async () => {
    const socket = await connect();
    begin(socket, 3);
    const perFrame = 500;
    for (let seq = 0; seq < 400; seq++) {
      const values = new Float32Array(perFrame * 3).map((_, i) => Math.sin(seq + i));
      socket.ws.send(encodeFrame({ stream: 3, seq, timestamp: Date.now() + seq * 25_000, channels: 3, values }));
    }
    const refused = await errorFor(socket, 'enroll.begin');
    expect(refused).toMatchObject({ code: 'ENROLLMENT_BACKPRESSURE', stream: 3 });
  });
});
