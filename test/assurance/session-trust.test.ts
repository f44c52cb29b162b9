import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerMessageOf } from '../../protocol/messages.ts';
import type { SampleSet } from '../../src/biometrics/samples.ts';
import { enrolCohort, enrolSubject, eventually, sendSamples, verdicts } from '../continuous/support.ts';
import { slice } from '../biometrics/support.ts';
import { enrolmentPart, testPart } from '../continuous/wisdm.ts';
import { TestSocket, closedWithin, login, startNode, type Login, type Node } from '../realtime/support.ts';
import type { TestGateway } from '../support/gateway.ts';
import { spawnGateway, startTestGateway } from '../support/gateway.ts';

// A thief holding the owner's device and session streams their own motion. One window moves trust
// by at most 2 nats and `impostor` is −3, so if every stream (or socket) started from fresh trust,
// closing and reopening after each window would never read `impostor`. Trust belongs to the
// session: the thief gets there anyway. A step-up that is never proven ends the whole session.

const OWNER = `trust-owner-${process.pid}`;
const WINDOW = 50; // samples in one 2.5 s window at 20 Hz
const ATTEMPTS = 12;
const TIMEOUT_SECONDS = 2;
let gw: TestGateway;
let node: Node;
let thief: SampleSet;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  gw = await startTestGateway({
    // Notify only: the test watches verdicts; the timeout test below turns step-up on itself.
    VIGIL_CV_POLICY_IMPOSTOR: 'notify',
    VIGIL_CV_BATCH_DEADLINE_MS: '2',
  });
  node = await startNode(gw.config);
  await enrolCohort(gw);
  await enrolSubject(gw, OWNER, '1611');
  thief = await testPart('1616');
}, 240_000);

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await node?.close();
  await gw?.close();
});

/** One window of the thief's motion on a new stream of `socket`; the stream is closed after its verdict. */
async function oneWindow(socket: TestSocket, stream: number, attempt: number): Promise<ServerMessageOf<'verdict'>> {
  socket.sendJson({ type: 'stream.open', stream, rate: 20, channels: ['x', 'y', 'z'] });
  sendSamples(socket, stream, slice(thief, attempt * WINDOW, (attempt + 1) * WINDOW), 0);
  const verdict = await socket.until('verdict', 20_000);
  socket.sendJson({ type: 'stream.close', stream });
  return verdict;
}

async function connect(token: string): Promise<TestSocket> {
  const socket = new TestSocket(gw.url, { token });
  sockets.push(socket);
  await socket.next('ready');
  return socket;
}

describe('trust belongs to the session', () => {
  it('reopening a stream after every window cannot keep an impostor out of `impostor`', async () => {
    const session = await login(node, OWNER);
    const socket = await connect(session.accessToken);
    const seen: ServerMessageOf<'verdict'>[] = [];
    for (let attempt = 0; attempt < ATTEMPTS && !seen.some((v) => v.decision === 'impostor'); attempt++) {
      seen.push(await oneWindow(socket, attempt + 1, attempt));
    }
    expect(seen.map((v) => v.window)).toEqual(seen.map(() => 0)); // one window per stream
    expect(seen.map((v) => v.decision)).toContain('impostor');
  });

  it('reconnecting after every window cannot either', async () => {
    const session = await login(node, OWNER);
    const seen: ServerMessageOf<'verdict'>[] = [];
    for (let attempt = 0; attempt < ATTEMPTS && !seen.some((v) => v.decision === 'impostor'); attempt++) {
      const socket = await connect(session.accessToken);
      // Windows the first test did not send (sending them again would read `replay`).
      seen.push(await oneWindow(socket, 1, ATTEMPTS + attempt));
      socket.close();
      await socket.closed;
    }
    expect(seen.map((v) => v.decision)).toContain('impostor');
  });

  it('a new login (a passed step-up is one) is a new session and starts from fresh trust', async () => {
    const session = await login(node, OWNER);
    const socket = await connect(session.accessToken);
    socket.sendJson({ type: 'stream.open', stream: 1, rate: 20, channels: ['x', 'y', 'z'] });
    // Another recording of the thief, never sent before.
    sendSamples(socket, 1, slice(await enrolmentPart('1616'), 0, WINDOW), 0);
    const first = await socket.until('verdict', 20_000);
    expect(Math.abs(first.trust)).toBeLessThanOrEqual(2);
  });

  it('streams parked while trust was high do not keep it: every stream of the session adds to one trust', async () => {
    // The owner walked and the session reads `genuine`. The thief opens spare streams at once and
    // lets none of them take more than a few windows of their own motion, hoping each starts high.
    const session = await login(node, OWNER);
    const socket = await connect(session.accessToken);
    const open = (stream: number) => socket.sendJson({ type: 'stream.open', stream, rate: 20, channels: ['x', 'y', 'z'] });
    open(1);
    sendSamples(socket, 1, slice(await testPart('1611'), 0, 400), 0);
    expect((await verdicts(socket, 15)).at(-1)!.decision).toBe('genuine');

    const parked = [2, 3, 4, 5, 6];
    parked.forEach(open);
    const intruder = await testPart('1604');
    const seq = new Map<number, number>();
    const seen: ServerMessageOf<'verdict'>[] = [];
    let at = 0;
    for (let k = 0; k < 15 && !seen.some((v) => v.decision === 'impostor'); k++) {
      const stream = parked[k % parked.length]!;
      // One more window on that stream: a whole one first, then one hop.
      const samples = seq.has(stream) ? WINDOW / 2 : WINDOW;
      seq.set(stream, sendSamples(socket, stream, slice(intruder, at, at + samples), seq.get(stream) ?? 0));
      at += samples;
      seen.push(await socket.until('verdict', 20_000));
    }
    // Five parked streams of three windows each would end at 6 − 3·2 = 0 at worst: never `impostor`.
    expect(seen.map((v) => v.decision)).toContain('impostor');
  });

  it('nor do sockets parked while trust was high: the sockets of a session on one process share where it stands', async () => {
    for (const socket of sockets.splice(0)) {
      socket.close();
      await socket.closed;
    }
    const session = await login(node, OWNER);
    const first = await connect(session.accessToken);
    first.sendJson({ type: 'stream.open', stream: 1, rate: 20, channels: ['x', 'y', 'z'] });
    sendSamples(first, 1, slice(await testPart('1611'), 400, 800), 0);
    expect((await verdicts(first, 15)).at(-1)!.decision).toBe('genuine');

    const parked = [first, await connect(session.accessToken), await connect(session.accessToken)];
    parked.push(await connect(session.accessToken));
    for (const socket of parked) socket.sendJson({ type: 'stream.open', stream: 2, rate: 20, channels: ['x', 'y', 'z'] });
    const intruder = await testPart('1604');
    const seq = new Map<TestSocket, number>();
    const seen: ServerMessageOf<'verdict'>[] = [];
    let at = 450; // past what the parked streams above sent
    for (let k = 0; k < 8 && !seen.some((v) => v.decision === 'impostor'); k++) {
      const socket = parked[k % parked.length]!;
      const samples = seq.has(socket) ? WINDOW / 2 : WINDOW;
      seq.set(socket, sendSamples(socket, 2, slice(intruder, at, at + samples), seq.get(socket) ?? 0));
      at += samples;
      seen.push(await socket.until('verdict', 20_000));
    }
    // Four sockets of two windows each would end at 6 − 2·2 = 2 at worst: never `impostor`.
    expect(seen.map((v) => v.decision)).toContain('impostor');
  });
});

describe('an unproven step-up ends the session', () => {
  let stepUp: TestGateway;
  let stepUpNode: Node;

  beforeAll(async () => {
    stepUp = await startTestGateway({
      VIGIL_CV_POLICY_IMPOSTOR: 'step-up',
      VIGIL_CV_STEPUP_TIMEOUT_SECONDS: String(TIMEOUT_SECONDS),
      VIGIL_CV_BATCH_DEADLINE_MS: '2',
    });
    stepUpNode = await startNode(stepUp.config);
    for (const subject of ['1600', '1601', '1602']) await enrolSubject(stepUp, `cohort-${subject}-${process.pid}`, subject);
    await enrolSubject(stepUp, OWNER, '1611');
  }, 240_000);

  afterAll(async () => {
    await stepUpNode?.close();
    await stepUp?.close();
  });

  it('by default the session is revoked at the deadline: the HTTP API and refresh stop too', async () => {
    const session = await login(stepUpNode, OWNER);
    const headers = { authorization: `Bearer ${session.accessToken}` };
    expect((await fetch(`${stepUp.url}/v1/biometrics/model`, { headers })).status).toBe(200);
    const socket = new TestSocket(stepUp.url, { token: session.accessToken });
    sockets.push(socket);
    await socket.next('ready');
    socket.sendJson({ type: 'stream.open', stream: 1, rate: 20, channels: ['x', 'y', 'z'] });
    sendSamples(socket, 1, thief, 0);
    await socket.until('stepup.required', 20_000);
    const closed = await closedWithin(socket, TIMEOUT_SECONDS * 1000 + 5_000);
    expect(closed.reason).toBe('STREAM_STEPUP_TIMEOUT');

    // The revocation follows the close; it reaches every process through Redis.
    await eventually(
      async () => (await fetch(`${stepUp.url}/v1/biometrics/model`, { headers })).status === 401,
      'the HTTP API to refuse the session',
    );
    const refresh = await fetch(`${stepUp.url}/v1/sessions/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refreshToken: session.refreshToken }),
    });
    expect(refresh.status).toBe(401);
    expect(await stepUpNode.core.sessions.isLive(session.sessionId)).toBe(false);
    // And a reconnect with the old token is refused instead of getting a fresh deadline.
    const again = new TestSocket(stepUp.url, { token: session.accessToken });
    sockets.push(again);
    const refused = await closedWithin(again, 10_000);
    expect(refused.reason).toBe('TOKEN_REVOKED');
  });

  /** A socket of `session` on `url` streams the thief until asked for a step-up. */
  async function askedForStepUp(url: string, session: Login): Promise<{ socket: TestSocket; deadline: number }> {
    const socket = new TestSocket(url, { token: session.accessToken });
    sockets.push(socket);
    await socket.next('ready');
    socket.sendJson({ type: 'stream.open', stream: 1, rate: 20, channels: ['x', 'y', 'z'] });
    sendSamples(socket, 1, thief, 0);
    const { deadline } = await socket.until('stepup.required', 20_000);
    return { socket, deadline };
  }

  /**
   * The session ends by the deadline, plus the grace a reconnect gets to present a proof, plus one
   * sweep (bounded with room for a loaded machine: the suite runs files side by side on two cores).
   */
  async function expectRevokedAfter(session: Login, deadline: number): Promise<void> {
    await eventually(
      async () => !(await stepUpNode.core.sessions.isLive(session.sessionId)),
      'the session to be revoked with no socket left to do it',
      deadline + TIMEOUT_SECONDS * 1000 + 15_000 - Date.now(),
    );
    const headers = { authorization: `Bearer ${session.accessToken}` };
    expect((await fetch(`${stepUp.url}/v1/biometrics/model`, { headers })).status).toBe(401);
    const refresh = await fetch(`${stepUp.url}/v1/sessions/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refreshToken: session.refreshToken }),
    });
    expect(refresh.status).toBe(401);
    // Audited as it happened (the record follows the revocation).
    await eventually(async () => {
      const audit = await stepUp.gateway.context.audit.listForUser(OWNER, { limit: 100 });
      return audit.some(
        (e) => e.event === 'biometric.stepup' && e.sessionId === session.sessionId && e.detail?.outcome === 'timeout',
      );
    }, 'the timeout to be audited');
  }

  it('hanging up when asked does not escape it: the session is revoked at the deadline all the same', async () => {
    // The thief is told `stepup.required`, hangs up at once and never reconnects, keeping the
    // access and refresh tokens for HTTP. The deadline is the session's, not the socket's.
    const session = await login(stepUpNode, OWNER);
    const { socket, deadline } = await askedForStepUp(stepUp.url, session);
    socket.close();
    await socket.closed;
    expect(await stepUpNode.core.sessions.isLive(session.sessionId)).toBe(true);
    await expectRevokedAfter(session, deadline);
  });

  it('nor does reconnecting before every deadline: each reconnect is asked again, but the deadline stays', async () => {
    // A reconnect gets a few seconds to present a proof it already made. A thief who hangs up just
    // before each deadline must not turn those seconds into a deadline that never comes.
    const session = await login(stepUpNode, OWNER);
    const first = await askedForStepUp(stepUp.url, session);
    first.socket.close();
    await first.socket.closed;
    let over = false;
    const reconnecting = (async () => {
      while (!over) {
        const socket = new TestSocket(stepUp.url, { token: session.accessToken });
        sockets.push(socket);
        try {
          await socket.next('ready');
          const { deadline } = await socket.until('stepup.required');
          await new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now() - 300)));
        } catch {
          // Refused or closed: the session has ended.
        }
        socket.close();
        await socket.closed;
      }
    })();
    try {
      await expectRevokedAfter(session, first.deadline);
    } finally {
      over = true;
      await reconnecting;
    }
  });

  it('a step-up proven on one socket is not held against the session by its other socket', async () => {
    // An owner with two devices: the second is asked too (on connecting), the owner proves on the first.
    const session = await login(stepUpNode, OWNER);
    const socket = new TestSocket(stepUp.url, { token: session.accessToken });
    sockets.push(socket);
    await socket.next('ready');
    socket.sendJson({ type: 'stream.open', stream: 1, rate: 20, channels: ['x', 'y', 'z'] });
    sendSamples(socket, 1, slice(thief, 0, 250), 0);
    await verdicts(socket, 9); // every window is in: nothing asks again after the proof
    const { deadline } = await socket.until('stepup.required');
    const other = new TestSocket(stepUp.url, { token: session.accessToken });
    sockets.push(other);
    await other.next('ready');
    await other.next('stepup.required');
    socket.sendJson({ type: 'stepup', token: (await login(stepUpNode, OWNER)).accessToken });
    await socket.until('stepup.passed');

    // The other socket's deadline passes: it is lifted there too, and the session lives on.
    expect(await other.until('stepup.passed', deadline + TIMEOUT_SECONDS * 1000 + 2_000 - Date.now())).toEqual({
      type: 'stepup.passed',
      trust: 0,
    });
    expect(other.ws.readyState).toBe(1);
    expect(await stepUpNode.core.sessions.isLive(session.sessionId)).toBe(true);
  });

  it('nor does the end of the gateway process that asked: another process revokes the session', async () => {
    const child = await spawnGateway(stepUp.config);
    try {
      const session = await login(stepUpNode, OWNER);
      const { deadline } = await askedForStepUp(child.url, session);
      child.child.kill('SIGKILL');
      await child.exited;
      await expectRevokedAfter(session, deadline);
    } finally {
      if (child.child.exitCode === null && child.child.signalCode === null) {
        child.child.kill('SIGKILL');
        await child.exited;
      }
    }
  });
});
