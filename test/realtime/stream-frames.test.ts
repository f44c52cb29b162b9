import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VigilError } from '../../protocol/errors.ts';
import { encodeFrame, type FrameInput } from '../../protocol/frames.ts';
import type { StreamEnd, StreamSpec } from '../../src/realtime/channel-hooks.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import type { TestSocket } from './support.ts';
import { CHANNEL_ONLY, channelOf, closedWithin, login, readySocket, startNode, type Node } from './support.ts';

// Frames through a real socket into hooks attached the way continuous verification attaches:
// what the sink sees, in what order, and what the client is told about gaps and duplicates.
let gw: TestGateway;
let node: Node;
const sockets: TestSocket[] = [];

interface Seen {
  connection: string;
  spec: StreamSpec;
  frames: Array<{ seq: number; gap: number; values: number[]; timestamp: number }>;
  end?: StreamEnd;
}
const seen: Seen[] = [];
const disconnects: Array<{ connection: string; code: number }> = [];

beforeAll(async () => {
  gw = await startTestGateway({ ...CHANNEL_ONLY, VIGIL_WS_MAX_STREAMS: '2' });
  node = await startNode(gw.config);
  channelOf(gw).attach({
    async onAuthenticated(conn) {
      conn.attachment = { loadedFor: conn.principal.userId };
      return { version: 3, modality: 'accelerometer', channels: ['x', 'y', 'z'], rate: 50, window: 2.5, hop: 1.25 };
    },
    openStream(conn, spec) {
      if (spec.modality === 'refuse-me') throw new VigilError('STREAM_REFUSED', { reason: 'no model for refuse-me' });
      const record: Seen = { connection: conn.id, spec, frames: [] };
      seen.push(record);
      return {
        onFrame(frame, gap) {
          // Copy: the values may view the received message.
          record.frames.push({ seq: frame.seq, gap, values: Array.from(frame.values), timestamp: frame.timestamp });
          if (frame.values[0] === 999)
            conn.send({
              type: 'verdict',
              stream: frame.stream,
              window: 0,
              score: 0.1,
              trust: -2,
              decision: 'impostor',
              modelVersion: 3,
              latencyMs: 1,
            });
          if (frame.values[0] === -999) conn.close('STREAM_POLICY_FAILED', { reason: 'trust stayed below threshold' });
        },
        onClose(end) {
          record.end = end;
        },
      };
    },
    onDisconnect(conn, code) {
      disconnects.push({ connection: conn.id, code });
    },
  });
});
afterAll(async () => {
  for (const socket of sockets) socket.close();
  await node?.close();
  await gw?.close();
});

async function connect(stream?: { stream: number; channels: string[]; modality?: string }): Promise<TestSocket> {
  const user = await login(node);
  const socket = await readySocket(gw.url, user.accessToken, stream);
  sockets.push(socket);
  return socket;
}

const frame = (patch: Partial<FrameInput>): Uint8Array =>
  encodeFrame({ stream: 1, seq: 0, timestamp: 1_700_000_000_000, channels: 3, values: [1, 2, 3], ...patch });

const settle = () => new Promise((resolve) => setTimeout(resolve, 100));
const recordOf = (socketReady: { connectionId: string }, stream: number) =>
  seen.find((s) => s.connection === socketReady.connectionId && s.spec.stream === stream);

describe('frames into the sample hook', () => {
  it('describes the model from onAuthenticated in ready', async () => {
    const socket = await connect();
    const ready = socket.messages[0];
    expect(ready).toMatchObject({ type: 'ready', model: { version: 3, channels: ['x', 'y', 'z'] } });
  });

  it('delivers frames in order, binary and JSON alike, and acks on request', async () => {
    const socket = await connect({ stream: 1, channels: ['x', 'y', 'z'], modality: 'accelerometer' });
    const ready = socket.messages[0] as { connectionId: string };
    socket.ws.send(frame({ seq: 10, values: [1, 2, 3, 4, 5, 6] }));
    socket.sendJson({ type: 'samples', stream: 1, seq: 11, t: 1_700_000_000_040, samples: [[7, 8, 9]] });
    socket.ws.send(frame({ seq: 12, sampleType: 'int16', scale: 0.5, values: [1, -1, 2], ackRequested: true }));
    expect(await socket.next('ack')).toEqual({ type: 'ack', stream: 1, seq: 12, frames: 3, gaps: 0, duplicates: 0 });
    const record = recordOf(ready, 1)!;
    expect(record.spec).toEqual({ stream: 1, purpose: 'verify', rate: 50, channels: ['x', 'y', 'z'], modality: 'accelerometer' });
    expect(record.frames).toEqual([
      { seq: 10, gap: 0, values: [1, 2, 3, 4, 5, 6], timestamp: 1_700_000_000_000 },
      { seq: 11, gap: 0, values: [7, 8, 9], timestamp: 1_700_000_000_040 },
      { seq: 12, gap: 0, values: [1, -1, 2], timestamp: 1_700_000_000_000 },
    ]);
  });

  it('reports gaps and duplicates to the client without being asked, and drops duplicates', async () => {
    const socket = await connect({ stream: 1, channels: ['x', 'y', 'z'] });
    const ready = socket.messages[0] as { connectionId: string };
    socket.ws.send(frame({ seq: 0 }));
    socket.ws.send(frame({ seq: 1 }));
    socket.ws.send(frame({ seq: 5 })); // 2, 3, 4 missing
    expect(await socket.next('ack')).toEqual({ type: 'ack', stream: 1, seq: 5, frames: 3, gaps: 3, duplicates: 0 });
    socket.ws.send(frame({ seq: 5 }));
    expect(await socket.next('ack')).toEqual({ type: 'ack', stream: 1, seq: 5, frames: 3, gaps: 3, duplicates: 1 });
    socket.ws.send(frame({ seq: 3 })); // late: counted, dropped
    expect(await socket.next('ack')).toMatchObject({ seq: 5, frames: 3, duplicates: 2 });
    socket.ws.send(frame({ seq: 6, ackRequested: true }));
    expect(await socket.next('ack')).toMatchObject({ seq: 6, frames: 4, gaps: 3, duplicates: 2 });
    expect(recordOf(ready, 1)!.frames.map((f) => [f.seq, f.gap])).toEqual([
      [0, 0],
      [1, 0],
      [5, 3],
      [6, 0],
    ]);
    expect(await (await fetch(`${gw.url}/metrics`)).text()).toMatch(/vigil_ws_frames_total\{outcome="duplicate"\} 2/);
  });

  it('lets hooks push messages and close the socket with the policy code', async () => {
    const socket = await connect({ stream: 1, channels: ['x', 'y', 'z'] });
    socket.ws.send(frame({ seq: 0, values: [999, 0, 0] }));
    expect(await socket.next('verdict')).toMatchObject({ stream: 1, decision: 'impostor', trust: -2 });
    socket.ws.send(frame({ seq: 1, values: [-999, 0, 0] }));
    expect(await socket.next('bye')).toMatchObject({
      code: 'STREAM_POLICY_FAILED',
      close: 4540,
      message: expect.stringMatching(/below threshold/),
    });
    expect(await closedWithin(socket, 5_000)).toEqual({ code: 4540, reason: 'STREAM_POLICY_FAILED' });
    await settle();
    const ready = socket.messages[0] as { connectionId: string };
    expect(recordOf(ready, 1)!.end).toBe('disconnected');
    expect(disconnects).toContainEqual({ connection: ready.connectionId, code: 4540 });
  });

  it('closes streams on request and lets the id be reused', async () => {
    const socket = await connect({ stream: 4, channels: ['x'] });
    const ready = socket.messages[0] as { connectionId: string };
    socket.sendJson({ type: 'stream.close', stream: 4 });
    socket.sendJson({ type: 'stream.open', stream: 4, rate: 25, channels: ['a', 'b'] });
    socket.ws.send(frame({ stream: 4, channels: 2, values: [1, 2], ackRequested: true }));
    expect(await socket.next('ack')).toMatchObject({ stream: 4, frames: 1 });
    const records = seen.filter((s) => s.connection === ready.connectionId);
    expect(records.map((r) => [r.spec.channels.length, r.end])).toEqual([
      [1, 'closed'],
      [2, undefined],
    ]);
  });
});

describe('stream requests that are refused (the socket stays open)', () => {
  it('answers a hook refusal, a duplicate id, too many streams and unknown ends with errors', async () => {
    const socket = await connect({ stream: 1, channels: ['x'] });
    socket.sendJson({ type: 'stream.open', stream: 2, rate: 50, channels: ['x'], modality: 'refuse-me' });
    expect(await socket.next('error')).toMatchObject({
      code: 'STREAM_REFUSED',
      ref: 'stream.open',
      stream: 2,
      message: 'no model for refuse-me',
    });
    socket.sendJson({ type: 'stream.open', stream: 1, rate: 50, channels: ['x'] });
    expect(await socket.next('error')).toMatchObject({ code: 'STREAM_REFUSED', message: 'stream 1 is already open' });
    socket.sendJson({ type: 'stream.open', stream: 2, rate: 50, channels: ['x'] });
    socket.sendJson({ type: 'stream.open', stream: 3, rate: 50, channels: ['x'] });
    expect(await socket.next('error')).toMatchObject({ code: 'STREAM_REFUSED', message: 'at most 2 streams per connection' });
    socket.sendJson({ type: 'stream.close', stream: 9 });
    expect(await socket.next('error')).toMatchObject({ ref: 'stream.close', message: 'stream 9 is not open' });
    socket.sendJson({ type: 'enroll.commit', stream: 1 });
    expect(await socket.next('error')).toMatchObject({ ref: 'enroll.commit', message: 'stream 1 is not an enrolment' });
    expect(socket.ws.readyState).toBe(socket.ws.OPEN);
  });
});

describe('frames that close the socket', () => {
  it.each([
    ['a frame of a stream never opened', frame({ stream: 7 }), /stream 7 is not open/],
    [
      'a frame whose channels differ from the stream',
      frame({ channels: 1, values: [1] }),
      /stream 1 has 3 channels; the frame has 1/,
    ],
  ])('closes on %s with 3501', async (_name, bytes, reason) => {
    const socket = await connect({ stream: 1, channels: ['x', 'y', 'z'] });
    socket.ws.send(bytes);
    const bye = await socket.next('bye');
    expect(bye).toMatchObject({ code: 'STREAM_FRAME_MALFORMED', close: 3501 });
    expect(bye.message).toMatch(reason);
    expect((await closedWithin(socket, 5_000)).code).toBe(3501);
  });
});
