import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerMessageOf } from '../../protocol/messages.ts';
import type { SampleSet } from '../../src/biometrics/samples.ts';
import { slice } from '../biometrics/support.ts';
import { enrolCohort, enrolSubject, sendSamples } from '../continuous/support.ts';
import { testPart } from '../continuous/wisdm.ts';
import { TestSocket, login, startNode, type Node } from '../realtime/support.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';

// Attacks on replay detection by a thief holding a copy of the owner's session token. Each test
// uses its own owner (an account's index is what is attacked) and its own part of a fresh walk.

const WINDOW = 50;
const HOP = 25;
let gw: TestGateway;
let node: Node;
let fresh: SampleSet;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  gw = await startTestGateway({ VIGIL_CV_POLICY_IMPOSTOR: 'notify', VIGIL_CV_BATCH_DEADLINE_MS: '2' });
  node = await startNode(gw.config);
  await enrolCohort(gw);
  fresh = await testPart('1611');
}, 240_000);

afterAll(async () => {
  for (const socket of sockets) socket.close();
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
});
