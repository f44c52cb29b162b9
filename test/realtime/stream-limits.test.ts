import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame } from '../../protocol/frames.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import type { TestSocket } from './support.ts';
import { CHANNEL_ONLY, channelOf, closedWithin, login, readySocket, startNode, type Node } from './support.ts';

// Limits enforced on real sockets: message size (1009), malformed frames and messages,
// messages per second, and a slow reader hitting the backpressure limit.
let gw: TestGateway;
let flood: TestGateway;
let node: Node;
let floodNode: Node;
const sockets: TestSocket[] = [];
const MAX_MESSAGE = 4096;

beforeAll(async () => {
  gw = await startTestGateway({
    ...CHANNEL_ONLY,
    VIGIL_WS_MAX_MESSAGE_BYTES: String(MAX_MESSAGE),
    VIGIL_WS_MAX_MESSAGES_PER_SECOND: '40',
  });
  node = await startNode(gw.config);
  // A gateway whose hook answers every frame with 40 verdicts: a server that talks a lot, as
  // continuous verification does, to a client that stops reading.
  flood = await startTestGateway({
    ...CHANNEL_ONLY,
    VIGIL_WS_MAX_BACKPRESSURE_BYTES: '65536',
    VIGIL_WS_MAX_MESSAGES_PER_SECOND: '100000',
  });
  floodNode = await startNode(flood.config);
  channelOf(flood).attach({
    openStream: (conn, spec) => ({
      onFrame(frame) {
        if (spec.modality === 'quiet') return;
        for (let window = 0; window < 40; window++) {
          if (
            !conn.send({
              type: 'verdict',
              stream: frame.stream,
              window,
              score: 0.5,
              trust: 0.1,
              decision: 'uncertain',
              modelVersion: 1,
              latencyMs: 2.5,
            })
          )
            return;
        }
      },
      onClose() {},
    }),
  });
});
afterAll(async () => {
  for (const socket of sockets) socket.close();
  await node?.close();
  await floodNode?.close();
  await gw?.close();
  await flood?.close();
});

async function connect(target = gw, sessions = node, modality?: string): Promise<TestSocket> {
  const user = await login(sessions);
  const socket = await readySocket(target.url, user.accessToken, { stream: 1, channels: ['x', 'y', 'z'], modality });
  sockets.push(socket);
  return socket;
}

describe('message size', () => {
  it('accepts a message of exactly VIGIL_WS_MAX_MESSAGE_BYTES', async () => {
    const socket = await connect();
    const values = new Float32Array((MAX_MESSAGE - 24) / 4).fill(1); // 1018 values: not a multiple of 3 channels
    const count = Math.floor(values.length / 3);
    const bytes = encodeFrame({
      stream: 1,
      seq: 0,
      timestamp: 1,
      channels: 3,
      values: values.subarray(0, count * 3),
      ackRequested: true,
    });
    expect(bytes.byteLength).toBeLessThanOrEqual(MAX_MESSAGE);
    socket.ws.send(bytes);
    expect(await socket.next('ack')).toMatchObject({ frames: 1 });
  });

  it('closes with 1009 and says why when a message is one byte too large', async () => {
    const socket = await connect();
    socket.ws.send(new Uint8Array(MAX_MESSAGE + 1));
    expect(await socket.next('bye')).toMatchObject({
      code: 'STREAM_MESSAGE_TOO_LARGE',
      close: 1009,
      message: `Message of ${MAX_MESSAGE + 1} bytes exceeds the limit of ${MAX_MESSAGE} bytes`,
    });
    expect(await closedWithin(socket, 5_000)).toEqual({ code: 1009, reason: 'STREAM_MESSAGE_TOO_LARGE' });
  });

  it('closes an oversize JSON message the same way', async () => {
    const socket = await connect();
    socket.sendJson({ type: 'bye', reason: 'x'.repeat(MAX_MESSAGE) });
    expect((await closedWithin(socket, 5_000)).code).toBe(1009);
  });

  it('drops the connection without reading a message beyond twice the limit (uWS hard ceiling)', async () => {
    const socket = await connect();
    socket.ws.send(new Uint8Array(MAX_MESSAGE * 2 + 1));
    expect((await closedWithin(socket, 5_000)).code).toBe(1006);
  });
});

describe('malformed input', () => {
  const header = (edit: (view: DataView) => void) => {
    const bytes = encodeFrame({ stream: 1, seq: 0, timestamp: 1, channels: 3, values: [1, 2, 3] });
    edit(new DataView(bytes.buffer));
    return bytes;
  };

  it.each([
    ['a frame shorter than its header', new Uint8Array(10), /shorter than its 24-byte header/],
    ['an unknown version', header((v) => v.setUint8(0, 9)), /unsupported frame version 9/],
    ['a count the payload does not hold', header((v) => v.setUint16(6, 2, true)), /need exactly 48/],
    ['a NaN sample', header((v) => v.setFloat32(28, Number.NaN, true)), /sample 0 channel 1 is not finite/],
  ])('closes on %s with 3501', async (_name, bytes, reason) => {
    const socket = await connect();
    socket.ws.send(bytes);
    const bye = await socket.next('bye');
    expect(bye).toMatchObject({ code: 'STREAM_FRAME_MALFORMED', close: 3501 });
    expect(bye.message).toMatch(reason);
    expect(await closedWithin(socket, 5_000)).toEqual({ code: 3501, reason: 'STREAM_FRAME_MALFORMED' });
  });

  it.each([
    ['text that is not JSON', '{"type":', /not valid JSON/],
    ['an unknown message type', '{"type":"subscribe"}', /unknown message type "subscribe"/],
    ['samples with ragged rows', '{"type":"samples","stream":1,"seq":0,"t":0,"samples":[[1,2,3],[1]]}', /sample 1 has 1 values/],
  ])('closes on %s', async (_name, text, reason) => {
    const socket = await connect();
    socket.ws.send(text);
    const bye = await socket.next('bye');
    expect(bye.message).toMatch(reason);
    expect([3501, 3502]).toContain((await closedWithin(socket, 5_000)).code);
  });
});

describe('messages per second', () => {
  it('closes a socket that outruns VIGIL_WS_MAX_MESSAGES_PER_SECOND with 4002', async () => {
    const socket = await connect();
    for (let seq = 0; seq < 60; seq++)
      socket.ws.send(encodeFrame({ stream: 1, seq, timestamp: 1, channels: 3, values: [1, 2, 3] }));
    expect(await socket.until('bye')).toMatchObject({ code: 'STREAM_RATE_EXCEEDED', close: 4002 });
    expect((await closedWithin(socket, 5_000)).code).toBe(4002);
  });

  it('lets a socket stream at the limit indefinitely', async () => {
    const socket = await connect();
    // 40/s sustained with a burst of 40: 25 frames every 700 ms stays under it.
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 25; i++)
        socket.ws.send(encodeFrame({ stream: 1, seq: round * 25 + i, timestamp: 1, channels: 3, values: [1, 2, 3] }));
      await new Promise((resolve) => setTimeout(resolve, 700));
    }
    socket.ws.send(encodeFrame({ stream: 1, seq: 75, timestamp: 1, channels: 3, values: [1, 2, 3], ackRequested: true }));
    expect(await socket.until('ack')).toMatchObject({ frames: 76 });
  });
});

describe('backpressure', () => {
  it('closes a slow reader at VIGIL_WS_MAX_BACKPRESSURE_BYTES with 3003, instead of buffering without bound', async () => {
    const socket = await connect(flood, floodNode);
    const closesBefore = await closeCount(flood, '3003');
    socket.ws.pause(); // stop reading: the kernel buffers fill, then uWS' queue grows
    let seq = 0;
    const deadline = Date.now() + 15_000;
    while ((await closeCount(flood, '3003')) === closesBefore) {
      if (Date.now() > deadline) throw new Error('the slow reader was never closed');
      for (let i = 0; i < 50; i++)
        socket.ws.send(encodeFrame({ stream: 1, seq: seq++, timestamp: 1, channels: 3, values: [1, 2, 3] }));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(channelOf(flood).size).toBe(0);
    // Once it reads again it gets what was queued, then the close (or a reset, if uWS' close
    // timeout ran out first; either way the server let go of it).
    socket.ws.resume();
    const closed = await closedWithin(socket, 10_000);
    expect([3003, 1006]).toContain(closed.code);
    const metrics = await (await fetch(`${flood.url}/metrics`)).text();
    expect(metrics).toMatch(/vigil_ws_backpressure_total\{event="closed"\} 1/);
    expect(metrics).toMatch(/vigil_ws_backpressure_total\{event="congested"\} [1-9]/);
  });
});

describe('drain', () => {
  it('coalesces acks while a reader is slow and sends the latest on drain', async () => {
    const socket = await connect(flood, floodNode, 'quiet');
    socket.ws.pause();
    const frames = 60_000; // ~5 MB of acks: more than the kernel buffers hold
    for (let seq = 0; seq < frames; seq++) {
      socket.ws.send(encodeFrame({ stream: 1, seq, timestamp: 1, channels: 3, values: [1, 2, 3], ackRequested: true }));
    }
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    socket.ws.resume();
    let last = await socket.until('ack', 10_000);
    while (last.seq < frames - 1) last = await socket.until('ack', 10_000);
    expect(last).toMatchObject({ seq: frames - 1, frames, gaps: 0, duplicates: 0 });
    const acks = socket.messages.filter((m) => m.type === 'ack').length;
    expect(acks).toBeLessThan(frames); // some were held back and folded into later ones
    expect(socket.ws.readyState).toBe(socket.ws.OPEN);
    const metrics = await (await fetch(`${flood.url}/metrics`)).text();
    expect(metrics).toMatch(/vigil_ws_backpressure_total\{event="drained"\} [1-9]/);
  });
});

async function closeCount(target: TestGateway, code: string): Promise<number> {
  const text = await (await fetch(`${target.url}/metrics`)).text();
  return Number(new RegExp(`vigil_ws_closes_total\\{code="${code}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
}
