import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SampleSet } from '../../src/biometrics/samples.ts';
import { slice } from '../biometrics/support.ts';
import { enrolCohort, enrolSubject, eventually, sendSamples, verdicts } from '../continuous/support.ts';
import { testPart } from '../continuous/wisdm.ts';
import { logIn, signUpMember } from '../hardening/support/accounts.ts';
import { TestSocket, closedWithin, login, startNode, type Node } from '../realtime/support.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { RedisMonitor } from '../support/redis-monitor.ts';

// A thief holding a stolen session is judged only while they stream. One who goes quiet, hangs
// up, or breaks every window with sequence gaps was never scored, so never asked, and kept the
// session for good. A session watched by continuous verification must keep producing scored
// windows: silent for the gap, it owes a step-up (reason `silent`) like any other.

const OWNER = `evidence-owner-${process.pid}`;
const GAP_SECONDS = 3;
const TIMEOUT_SECONDS = 2;
/** Bounded wait for whatever silence leads to: the gap, the step-up timeout, its grace, sweeps, and slack. */
const WAIT_MS = (GAP_SECONDS + 2 * TIMEOUT_SECONDS + 10) * 1000;
const ALWAYS_GAP_SECONDS = 10;
const ALWAYS_WAIT_MS = WAIT_MS + (ALWAYS_GAP_SECONDS - GAP_SECONDS) * 1000;
const WINDOW = 50; // samples in one 2.5 s window at 20 Hz; hop 25
const SETTINGS = {
  VIGIL_CV_EVIDENCE_MAX_GAP_SECONDS: String(GAP_SECONDS),
  VIGIL_CV_STEPUP_TIMEOUT_SECONDS: String(TIMEOUT_SECONDS),
  VIGIL_CV_BATCH_DEADLINE_MS: '2',
  // The owner's recording is streamed more than once here; replays have their own test.
  VIGIL_CV_REPLAY_DETECTION: 'false',
};

let gw: TestGateway;
let node: Node;
let owner: SampleSet;
let thief: SampleSet;
const sockets: TestSocket[] = [];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  gw = await startTestGateway(SETTINGS); // VIGIL_CV_EVIDENCE_POLICY: streamed, the default
  node = await startNode(gw.config);
  await enrolCohort(gw);
  await enrolSubject(gw, OWNER, '1611');
  owner = await testPart('1611');
  thief = await testPart('1616');
}, 240_000);

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await node?.close();
  await gw?.close();
});

async function connect(url: string, token: string): Promise<TestSocket> {
  const socket = new TestSocket(url, { token });
  sockets.push(socket);
  await socket.next('ready');
  return socket;
}

/** The owner's device streams `windows` windows of the owner's walking on a new stream; all are scored. */
async function ownerStreams(socket: TestSocket, stream: number, windows: number): Promise<void> {
  socket.sendJson({ type: 'stream.open', stream, rate: 20, channels: ['x', 'y', 'z'] });
  sendSamples(socket, stream, slice(owner, 0, WINDOW + (WINDOW / 2) * (windows - 1)), 0);
  const seen = await verdicts(socket, windows);
  expect(seen.map((v) => v.decision)).not.toContain('impostor');
}

/** The owner's walking on a new stream at about real time (a hop of 1.25 s of samples each second) for `ms`. */
async function streamInRealTime(socket: TestSocket, stream: number, ms: number): Promise<void> {
  socket.sendJson({ type: 'stream.open', stream, rate: 20, channels: ['x', 'y', 'z'] });
  const hop = WINDOW / 2;
  const until = Date.now() + ms;
  let seq = 0;
  for (let k = 0; Date.now() < until; k++) {
    seq = sendSamples(socket, stream, slice(owner, k * hop, (k + 1) * hop), seq);
    await sleep(1_000);
  }
  socket.sendJson({ type: 'stream.close', stream });
}

async function expectRevoked(
  url: string,
  session: { sessionId: string; accessToken: string; refreshToken: string },
  waitMs = WAIT_MS,
) {
  await eventually(async () => !(await node.core.sessions.isLive(session.sessionId)), 'the silent session to be revoked', waitMs);
  expect(
    (await fetch(`${url}/v1/biometrics/model`, { headers: { authorization: `Bearer ${session.accessToken}` } })).status,
  ).toBe(401);
  const refresh = await fetch(`${url}/v1/sessions/refresh`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refreshToken: session.refreshToken }),
  });
  expect(refresh.status).toBe(401);
}

const silentAsked = async (userId: string, sessionId: string) =>
  (await gw.gateway.context.audit.listForUser(userId, { limit: 100 })).some(
    (e) => e.event === 'biometric.policy_action' && e.sessionId === sessionId && e.detail?.decision === 'silent',
  );

describe('a watched session must keep producing scored windows', () => {
  it('going quiet with the socket open: asked for a step-up (`silent`), and revoked at the deadline without proof', async () => {
    const session = await login(node, OWNER);
    const socket = await connect(gw.url, session.accessToken);
    await ownerStreams(socket, 1, 4);
    const asked = await socket.until('stepup.required', WAIT_MS);
    expect(asked.reason).toBe('silent');
    expect(asked.stream).toBeUndefined();
    expect((await closedWithin(socket, WAIT_MS)).reason).toBe('STREAM_STEPUP_TIMEOUT');
    await expectRevoked(gw.url, session);
  });

  it('hanging up instead: the session is revoked all the same, with no socket anywhere', async () => {
    const session = await login(node, OWNER);
    const socket = await connect(gw.url, session.accessToken);
    await ownerStreams(socket, 1, 4);
    socket.close();
    await socket.closed;
    expect(await node.core.sessions.isLive(session.sessionId)).toBe(true);
    await expectRevoked(gw.url, session);
    await eventually(() => silentAsked(OWNER, session.sessionId), 'the silent step-up to be audited');
  });

  it('frames with sequence gaps complete no window: the session is silent all the same', async () => {
    const session = await login(node, OWNER);
    const socket = await connect(gw.url, session.accessToken);
    await ownerStreams(socket, 1, 3);
    // The thief keeps frames flowing on another stream, skipping a sequence number after each one.
    socket.sendJson({ type: 'stream.open', stream: 2, rate: 20, channels: ['x', 'y', 'z'] });
    let seq = 0;
    let at = 0;
    const flowing = setInterval(() => {
      if (socket.ws.readyState !== 1) return;
      seq = sendSamples(socket, 2, slice(thief, at, at + WINDOW / 2), seq) + 1;
      at = (at + WINDOW / 2) % (thief.length - WINDOW);
    }, 200);
    try {
      const asked = await socket.until('stepup.required', WAIT_MS);
      expect(asked.reason).toBe('silent');
    } finally {
      clearInterval(flowing);
    }
    expect(seq).toBeGreaterThan(10);
    expect(socket.messages.filter((m) => m.type === 'verdict' && m.stream === 2)).toEqual([]);
    await expectRevoked(gw.url, session);
  });

  it('the owner who keeps streaming is never asked; a session that never streamed is not watched', async () => {
    // Never streamed: one socket left open without a stream, one session with no socket at all.
    const idle = await login(node, OWNER);
    const idleSocket = await connect(gw.url, idle.accessToken);
    const httpOnly = await login(node, OWNER);

    const session = await login(node, OWNER);
    const socket = await connect(gw.url, session.accessToken);
    // For more than three gaps, and past the step-up deadline an early false ask would have set.
    await streamInRealTime(socket, 1, (3 * GAP_SECONDS + TIMEOUT_SECONDS + 2) * 1000);
    const seen = socket.messages.filter((m) => m.type === 'verdict');
    expect(seen.length).toBeGreaterThan(3 * GAP_SECONDS);
    expect(socket.messages.filter((m) => m.type === 'stepup.required')).toEqual([]);
    expect(await node.core.sessions.isLive(session.sessionId)).toBe(true);

    expect(idleSocket.messages.filter((m) => m.type === 'stepup.required')).toEqual([]);
    expect(idleSocket.ws.readyState).toBe(1);
    expect(await node.core.sessions.isLive(idle.sessionId)).toBe(true);
    expect(await node.core.sessions.isLive(httpOnly.sessionId)).toBe(true);
  });

  it('costs no Redis write per window: the index is written at most once per gap/4 per session', async () => {
    const session = await login(node, OWNER);
    const socket = await connect(gw.url, session.accessToken);
    // MONITOR sees every client's commands: keep the index writes for this session.
    const writes: string[] = [];
    const monitor = await RedisMonitor.start(gw.config.REDIS_URL, (line) => {
      const lower = line.toLowerCase();
      if (lower.includes('"zadd"') && line.includes('cv:evidence-due') && line.includes(session.sessionId)) writes.push(line);
    });
    try {
      const started = Date.now();
      const windows = 24;
      await ownerStreams(socket, 1, windows);
      const elapsed = Date.now() - started;
      await new Promise((resolve) => setTimeout(resolve, 100)); // the last write, if any, is seen
      expect(writes.length).toBeGreaterThan(0);
      expect(writes.length).toBeLessThanOrEqual(Math.ceil(elapsed / ((GAP_SECONDS * 1000) / 4)) + 1);
      expect(writes.length).toBeLessThan(windows / 2);
    } finally {
      monitor.stop();
    }
  });

  it('a proven step-up clears it and evidence starts over', async () => {
    const session = await login(node, OWNER);
    const socket = await connect(gw.url, session.accessToken);
    await ownerStreams(socket, 1, 4);
    const first = await socket.until('stepup.required', WAIT_MS);
    expect(first.reason).toBe('silent');
    socket.sendJson({ type: 'stepup', token: (await login(node, OWNER)).accessToken });
    await socket.until('stepup.passed');

    // The owner streams again, well past the first deadline: nothing is owed, nothing is asked.
    await streamInRealTime(socket, 2, (GAP_SECONDS + 2 * TIMEOUT_SECONDS + 2) * 1000);
    expect(socket.messages.filter((m) => m.type === 'stepup.required')).toHaveLength(1);
    expect(await node.core.sessions.isLive(session.sessionId)).toBe(true);

    // And the watch goes on: quiet again, asked again.
    const again = await socket.until('stepup.required', WAIT_MS);
    expect(again.reason).toBe('silent');
    expect(again.deadline).toBeGreaterThan(first.deadline);
  });
});

describe('VIGIL_CV_EVIDENCE_POLICY=always', () => {
  // A second gateway process over the same stores: both sweep the one index, and a session's
  // sockets may sit on either.
  let always: TestGateway;

  beforeAll(async () => {
    always = await startTestGateway({
      ...SETTINGS,
      // Its sessions are judged from their creation: a longer gap, so that a socket that a loaded
      // machine connects slowly still meets its session alive.
      VIGIL_CV_EVIDENCE_MAX_GAP_SECONDS: String(ALWAYS_GAP_SECONDS),
      VIGIL_CV_EVIDENCE_POLICY: 'always',
      MONGO_DB: String(gw.config.MONGO_DB),
      REDIS_PREFIX: String(gw.config.REDIS_PREFIX),
    });
  });

  afterAll(async () => {
    await always?.gateway.close(); // the data is the first gateway's to drop
  });

  it('a quiet socket on one process is not asked while the session streams on another', async () => {
    // The session's evidence comes from the first gateway; its second socket, idle here, must see it through the index.
    const session = await login(node, OWNER);
    const idle = await connect(always.url, session.accessToken);
    const streaming = await connect(gw.url, session.accessToken);
    await streamInRealTime(streaming, 1, (3 * GAP_SECONDS + TIMEOUT_SECONDS + 2) * 1000);
    expect(streaming.messages.filter((m) => m.type === 'verdict').length).toBeGreaterThan(3 * GAP_SECONDS);
    expect(idle.messages.filter((m) => m.type === 'stepup.required')).toEqual([]);
    expect(streaming.messages.filter((m) => m.type === 'stepup.required')).toEqual([]);
    expect(await node.core.sessions.isLive(session.sessionId)).toBe(true);
  });

  it('a session of an account with a model must stream from its creation; an account without one is not asked', async () => {
    const member = await signUpMember(always.url, 'ev');
    const modelless = await signUpMember(always.url, 'nm');
    await enrolSubject(always, member.userId, '1612');

    // Logins made by the gateway once the account has a model: one with a socket, one without.
    const withSocket = await logIn(always.url, member.username, member.password);
    const socket = await connect(always.url, withSocket.accessToken);
    const withoutSocket = await logIn(always.url, member.username, member.password);

    const asked = await socket.until('stepup.required', ALWAYS_WAIT_MS);
    expect(asked.reason).toBe('silent');
    await expectRevoked(always.url, withSocket, ALWAYS_WAIT_MS);
    await expectRevoked(always.url, withoutSocket, ALWAYS_WAIT_MS);
    expect(await node.core.sessions.isLive(modelless.sessionId)).toBe(true);
  }, 120_000);
});
