import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame } from '../../protocol/frames.ts';
import type { ServerMessageOf } from '../../protocol/messages.ts';
import type { SampleSet } from '../../src/biometrics/samples.ts';
import { connectRedis, createRedis, type RedisClient } from '../../src/storage/redis.ts';
import { slice } from '../biometrics/support.ts';
import { enrolSubject, sendSamples } from '../continuous/support.ts';
import { testPart } from '../continuous/wisdm.ts';
import { TestSocket, login, startNode, type Node } from '../realtime/support.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';

// Attacks on replay detection by a thief holding a copy of the owner's session token. Each test
// uses its own owner (an account's index is what is attacked) and its own part of a fresh walk.

const WINDOW = 50;
const HOP = 25;
let gw: TestGateway;
let node: Node;
let redis: RedisClient;
let fresh: SampleSet;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  gw = await startTestGateway({ VIGIL_CV_POLICY_IMPOSTOR: 'notify', VIGIL_CV_BATCH_DEADLINE_MS: '2' });
  node = await startNode(gw.config);
  for (const subject of ['1600', '1601', '1602']) await enrolSubject(gw, `cohort-${subject}-${process.pid}`, subject);
  redis = createRedis(gw.config, 'test-replay-attacks');
  await connectRedis(redis, 2_000);
  fresh = await testPart('1611');
}, 240_000);

afterAll(async () => {
  for (const socket of sockets) socket.close();
  redis?.disconnect();
  await node?.close();
  await gw?.close();
});

async function connect(userId: string): Promise<TestSocket> {
  const socket = new TestSocket(gw.url, { token: (await login(node, userId)).accessToken });
  sockets.push(socket);
  await socket.next('ready');
  return socket;
}

/** Streams `data` on `socket` (stream 1) and collects one verdict per window. */
async function stream(socket: TestSocket, data: SampleSet): Promise<Array<ServerMessageOf<'verdict'>>> {
  socket.sendJson({ type: 'stream.open', stream: 1, rate: 20, channels: ['x', 'y', 'z'] });
  sendSamples(socket, 1, data, 0);
  const windows = Math.floor((data.length - WINDOW) / HOP) + 1;
  const out: Array<ServerMessageOf<'verdict'>> = [];
  while (out.length < windows) out.push(await socket.until('verdict', 30_000));
  socket.sendJson({ type: 'stream.close', stream: 1 });
  return out;
}

/** The owner streams `data` on a socket of their own and hangs up: the account has sent it. */
async function ownerStreams(userId: string, data: SampleSet): Promise<void> {
  const socket = await connect(userId);
  expect((await stream(socket, data)).map((v) => v.decision)).not.toContain('replay');
  socket.close();
  await socket.closed;
}

/**
 * Every socket reads its account's whole index at authentication (SMEMBERS): how long four sockets
 * of the account take to be ready, and the slowest PING another Redis client sees meanwhile.
 */
async function fourSockets(userId: string): Promise<string> {
  let worstPing = 0;
  let pinging = true;
  const pinger = (async () => {
    while (pinging) {
      const at = performance.now();
      await redis.ping();
      worstPing = Math.max(worstPing, performance.now() - at);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  const at = performance.now();
  const four = await Promise.all(Array.from({ length: 4 }, () => connect(userId))).finally(() => (pinging = false));
  const readyMs = performance.now() - at;
  await pinger;
  for (const socket of four) socket.close();
  await Promise.all(four.map((socket) => socket.closed));
  return `ready in ${readyMs.toFixed(0)} ms, worst PING of another client ${worstPing.toFixed(0)} ms`;
}

const share = (verdicts: Array<ServerMessageOf<'verdict'>>) =>
  verdicts.filter((v) => v.decision === 'replay').length / verdicts.length;

describe('replay detection under attack', () => {
  it("a socket opened before the owner streamed a recording catches that recording's replay", async () => {
    const owner = `replay-parked-${process.pid}`;
    await enrolSubject(gw, owner, '1611');
    // The thief connects first and waits: the socket's index is read now.
    const parked = await connect(owner);
    const recording = slice(fresh, 0, 400);
    await ownerStreams(owner, recording);
    // A socket opened now reads it as a replay (replay.test.ts); the parked one must too.
    expect(share(await stream(parked, recording))).toBeGreaterThanOrEqual(0.8);
  }, 60_000);

  it("a flood of unscored noise does not stop the account's later streams from being remembered", async () => {
    const owner = `replay-flood-${process.pid}`;
    await enrolSubject(gw, owner, '1611');
    console.log(`four sockets of the account before the flood: ${await fourSockets(owner)}`);
    const thief = await connect(owner);
    thief.sendJson({ type: 'stream.open', stream: 1, rate: 20, channels: ['x', 'y', 'z'] });
    // Loud random motion, as fast as the socket takes it (stamped in the past, never ahead): most
    // windows are dropped unscored (overloaded) and move no trust, but every window is
    // fingerprinted and remembered, and the index stops growing at 250,000.
    let state = 1;
    const noise = () => ((state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32) * 40 - 20;
    const ROWS = 5_000;
    const FRAMES = 110;
    const t0 = Date.now() - FRAMES * ROWS * 50 - 60_000;
    for (let seq = 0; seq < FRAMES; seq++) {
      const values = Float32Array.from({ length: ROWS * 3 }, noise);
      const last = seq === FRAMES - 1;
      thief.ws.send(encodeFrame({ stream: 1, seq, timestamp: t0 + seq * ROWS * 50, channels: 3, values, ackRequested: last }));
      if (seq % 50 === 49) await new Promise((resolve) => setTimeout(resolve, 1_000)); // under 100 messages/s
    }
    // Frames are taken in order: once the last is acked, every window of the flood was cut.
    while ((await thief.until('ack', 30_000)).seq < FRAMES - 1);
    thief.sendJson({ type: 'stream.close', stream: 1 });
    // The stream's fingerprints go to Redis when it ends: a frame acked on a second stream proves the end was taken.
    thief.sendJson({ type: 'stream.open', stream: 2, rate: 20, channels: ['x', 'y', 'z'] });
    thief.ws.send(
      encodeFrame({
        stream: 2,
        seq: 0,
        timestamp: Date.now() - 1_000,
        channels: 3,
        values: new Float32Array(3),
        ackRequested: true,
      }),
    );
    await thief.until('ack', 30_000);
    thief.close();
    await thief.closed;
    await gw.gateway.redis.ping();
    const key = `replay:shape:${owner}`;
    console.log(`index after the flood: ${await redis.scard(key)} fingerprints`);

    console.log(`four sockets of the account after the flood: ${await fourSockets(owner)}`);

    // The owner walks afterwards; a recording of that walk played back verbatim must read `replay`.
    const recording = slice(fresh, 400, 800);
    await ownerStreams(owner, recording);
    const replayer = await connect(owner);
    expect(share(await stream(replayer, recording))).toBeGreaterThanOrEqual(0.8);
  }, 120_000);
});
