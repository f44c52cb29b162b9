import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerMessageOf } from '../../protocol/messages.ts';
import type { SampleSet } from '../../src/biometrics/samples.ts';
import { connectRedis, createRedis, type RedisClient } from '../../src/storage/redis.ts';
import { slice } from '../biometrics/support.ts';
import { continuousOf, enrolCohort, enrolSubject, eventually, sendSamples, verdicts } from '../continuous/support.ts';
import { testPart } from '../continuous/wisdm.ts';
import { TestSocket, login, startNode, type Login, type Node } from '../realtime/support.ts';
import { spawnGateway, startTestGateway, type GatewayProcess, type TestGateway } from '../support/gateway.ts';

// Two gateway processes share one Redis. The owner's device streams on one and the session reads
// `genuine`; a thief with a copy of the session's token streams their own motion on the other and
// takes the session to the floor. Each process used to write its own value over the other's, so
// the first process, which last saw trust high, put it back when its stream ended, and its idle
// socket resumed from that high value. Processes now add what their windows changed.

const OWNER = `cross-owner-${process.pid}`;
const WINDOW = 50; // samples in one 2.5 s window at 20 Hz
const HOP = WINDOW / 2;
const FLOOR = -6;
const CEILING = 6;
let gw: TestGateway;
let node: Node;
let other: GatewayProcess;
let redis: RedisClient;
let owner: SampleSet;
let thief: SampleSet;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  gw = await startTestGateway({ VIGIL_CV_POLICY_IMPOSTOR: 'notify', VIGIL_CV_BATCH_DEADLINE_MS: '2' });
  node = await startNode(gw.config);
  await enrolCohort(gw);
  await enrolSubject(gw, OWNER, '1611');
  other = await spawnGateway(gw.config);
  redis = createRedis(gw.config, 'test-trust');
  await connectRedis(redis, 2_000);
  owner = await testPart('1611');
  thief = await testPart('1616');
}, 240_000);

afterAll(async () => {
  for (const socket of sockets) socket.close();
  redis?.disconnect();
  if (other && other.child.exitCode === null && other.child.signalCode === null) {
    other.child.kill('SIGTERM');
    await other.exited;
  }
  await node?.close();
  await gw?.close();
});

async function connect(url: string, token: string): Promise<TestSocket> {
  const socket = new TestSocket(url, { token });
  sockets.push(socket);
  await socket.next('ready');
  return socket;
}

const storedTrust = async (session: Login) => Number(await redis.get(`cv:trust:{${session.sessionId}}`));

// Each test takes its own samples: the same samples twice would read `replay`.
let ownerAt = 0;
let thiefAt = 0;

/** The owner walks on `socket` until the session stands at the ceiling; the stream stays open. */
async function ownerToCeiling(socket: TestSocket): Promise<void> {
  socket.sendJson({ type: 'stream.open', stream: 1, rate: 20, channels: ['x', 'y', 'z'] });
  let seq = sendSamples(socket, 1, slice(owner, ownerAt, (ownerAt += 400)), 0);
  let last = (await verdicts(socket, 15)).at(-1)!;
  for (let more = 0; more < 8 && last.trust < CEILING; more++) {
    seq = sendSamples(socket, 1, slice(owner, ownerAt, (ownerAt += HOP)), seq);
    last = await socket.until('verdict', 20_000);
  }
  expect(last).toMatchObject({ decision: 'genuine', trust: CEILING });
}

/** The thief streams on a socket of the other process until the session is at the floor, then hangs up. */
async function thiefToFloor(session: Login): Promise<void> {
  const socket = await connect(other.url, session.accessToken);
  socket.sendJson({ type: 'stream.open', stream: 1, rate: 20, channels: ['x', 'y', 'z'] });
  let seq = sendSamples(socket, 1, slice(thief, thiefAt, (thiefAt += WINDOW)), 0);
  let last = await socket.until('verdict', 20_000);
  for (let more = 0; more < 20 && last.trust > FLOOR; more++) {
    seq = sendSamples(socket, 1, slice(thief, thiefAt, (thiefAt += HOP)), seq);
    last = await socket.until('verdict', 20_000);
  }
  expect(last).toMatchObject({ decision: 'impostor', trust: FLOOR });
  socket.sendJson({ type: 'stream.close', stream: 1 });
  socket.close();
  await socket.closed;
  await eventually(async () => (await storedTrust(session)) === FLOOR, 'the other process stores the floor');
}

describe('trust across gateway processes', () => {
  it('a process that last saw trust high adds its change when its stream ends, instead of putting it back', async () => {
    const session = await login(node, OWNER);
    const first = await connect(gw.url, session.accessToken);
    await ownerToCeiling(first);
    await thiefToFloor(session);

    first.sendJson({ type: 'stream.close', stream: 1 });
    first.close();
    await first.closed;
    await eventually(() => continuousOf(gw).standings.size === 0, 'the first process lets the session go');
    // Its last write went out on this connection before the ping's answer came back.
    await gw.gateway.redis.ping();
    // Overwritten, this would read the first process's 6. Merged, it added only what its windows
    // moved since it last wrote (at most from 3, where it went genuine, to 6).
    expect(await storedTrust(session)).toBeLessThanOrEqual(FLOOR + 3);

    // A socket that comes later, on either process, starts from there.
    const later = await connect(other.url, session.accessToken);
    later.sendJson({ type: 'stream.open', stream: 1, rate: 20, channels: ['x', 'y', 'z'] });
    sendSamples(later, 1, slice(thief, thiefAt, (thiefAt += WINDOW)), 0);
    const verdict: ServerMessageOf<'verdict'> = await later.until('verdict', 20_000);
    expect(verdict.decision).not.toBe('genuine');
    expect(verdict.trust).toBeLessThan(0);
  });

  it('a socket parked while trust was high resumes from where the session stands, not from where it left it', async () => {
    const session = await login(node, OWNER);
    const parked = await connect(gw.url, session.accessToken);
    await ownerToCeiling(parked);
    await thiefToFloor(session);

    // The thief picks up the socket that was left at the ceiling on the first process.
    parked.sendJson({ type: 'stream.open', stream: 2, rate: 20, channels: ['x', 'y', 'z'] });
    const seq = sendSamples(parked, 2, slice(thief, thiefAt, (thiefAt += WINDOW)), 0);
    await parked.until('verdict', 20_000);
    sendSamples(parked, 2, slice(thief, thiefAt, (thiefAt += HOP)), seq);
    const second = await parked.until('verdict', 20_000);
    // From the ceiling two windows end at 2 or more (one window moves at most 2); from the
    // session's standing (at most −3) at 1 or less.
    expect(second.trust).toBeLessThan(2);
    expect(second.decision).not.toBe('genuine');
  });
});
