import { moduleOf } from '../support/modules.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerMessageOf } from '../../protocol/messages.ts';
import { concatSamples, type SampleSet } from '../../src/biometrics/samples.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { TestSocket, closedWithin, login, startNode, type Login, type Node } from '../realtime/support.ts';
import { enrolCohort, enrolSubject, eventually, sendSamples } from './support.ts';
import { testPart } from './wisdm.ts';
import { generate } from 'otplib';
import type { TotpFactors } from '../../src/identity/credentials/totp/totp-factors.ts';
import { SoftAuthenticator } from '../support/soft-authenticator.ts';

// The step-up policy on real sockets: an impostor decision asks the holder to log in again;
// a fresh login's token passes it, a refreshed token of the same session does not, and silence
// closes the socket — and the next socket of the session is asked again at once.

const OWNER = `stepup-owner-${process.pid}`;
const TIMEOUT_SECONDS = 3;
let gw: TestGateway;
let node: Node;
let takeover: SampleSet;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  gw = await startTestGateway({
    VIGIL_CV_POLICY_IMPOSTOR: 'step-up',
    VIGIL_CV_STEPUP_TIMEOUT_SECONDS: String(TIMEOUT_SECONDS),
    // Only the socket closes at the deadline here, so the next socket of the session can be watched
    // (the default, revoke, is test/assurance/session-trust.test.ts).
    VIGIL_CV_STEPUP_TIMEOUT_ACTION: 'close',
    VIGIL_CV_BATCH_DEADLINE_MS: '2',
  });
  node = await startNode(gw.config);
  await enrolCohort(gw);
  await enrolSubject(gw, OWNER, '1611');
  const [owner, other] = await Promise.all([testPart('1611'), testPart('1616')]);
  // Ten seconds of the owner, then someone else: a stream that turns impostor.
  takeover = concatSamples(20, ['x', 'y', 'z'], [owner.data.subarray(0, 200 * 3), other.data]);
}, 240_000);

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await node?.close();
  await gw?.close();
});

async function streamingImpostor(user: Login): Promise<{ socket: TestSocket; required: ServerMessageOf<'stepup.required'> }> {
  const socket = new TestSocket(gw.url, { token: user.accessToken });
  sockets.push(socket);
  await socket.next('ready');
  socket.sendJson({ type: 'stream.open', stream: 1, rate: 20, channels: ['x', 'y', 'z'] });
  sendSamples(socket, 1, takeover, 0);
  const required = await socket.until('stepup.required');
  return { socket, required };
}

async function refreshedAccessToken(user: Login): Promise<string> {
  const res = await fetch(`${gw.url}/v1/sessions/refresh`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refreshToken: user.refreshToken }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { accessToken: string }).accessToken;
}

describe('step-up policy', () => {
  it('asks for a step-up on impostor, refuses a refreshed token, and passes with a fresh login', async () => {
    const user = await login(node, OWNER);
    const started = Date.now();
    const { socket, required } = await streamingImpostor(user);
    expect(required).toMatchObject({
      type: 'stepup.required',
      reason: 'impostor',
      stream: 1,
      timeoutSeconds: TIMEOUT_SECONDS,
      methods: ['password', 'code'],
    });
    expect(required.trust).toBeLessThanOrEqual(-3);
    expect(required.deadline).toBeGreaterThan(started);

    // Every window is in (the stream stays impostor); what follows is only about the proof.
    const windows = Math.floor((takeover.length - 50) / 25) + 1;
    await eventually(() => socket.messages.filter((m) => m.type === 'verdict').length === windows, 'every verdict');

    // A refresh is what a thief holding the device can do: it proves nothing.
    socket.sendJson({ type: 'stepup', token: await refreshedAccessToken(user) });
    const refused = await socket.until('error');
    expect(refused).toMatchObject({ code: 'STEPUP_INVALID', ref: 'stepup' });
    expect(refused.message).toMatch(/same session/);

    // A login made now (password or code) is the proof; its session is single-use.
    const proof = await login(node, OWNER);
    socket.sendJson({ type: 'stepup', token: proof.accessToken });
    const passed = await socket.until('stepup.passed');
    expect(passed).toEqual({ type: 'stepup.passed', trust: 0 });
    await eventually(async () => !(await node.core.sessions.isLive(proof.sessionId)), 'the proof session to end');
    expect(await node.core.sessions.isLive(user.sessionId)).toBe(true);
    // Past the deadline the socket is still open: the step-up was lifted.
    await new Promise((resolve) => setTimeout(resolve, TIMEOUT_SECONDS * 1000 + 300));
    expect(socket.ws.readyState).toBe(1);
    const audit = await gw.gateway.context.audit.listForUser(OWNER, { limit: 100 });
    expect(
      audit.some(
        (e) => e.event === 'biometric.policy_action' && e.sessionId === user.sessionId && e.detail?.action === 'step-up',
      ),
    ).toBe(true);
    expect(audit.some((e) => e.event === 'biometric.stepup' && e.outcome === 'failure' && e.detail?.outcome === 'refused')).toBe(
      true,
    );
    expect(audit.some((e) => e.event === 'biometric.stepup' && e.outcome === 'success' && e.sessionId === user.sessionId)).toBe(
      true,
    );
  });

  it('closes with STREAM_STEPUP_TIMEOUT when nobody proves in time, and asks again on the next socket', async () => {
    const user = await login(node, OWNER);
    const { socket } = await streamingImpostor(user);
    const closed = await closedWithin(socket, TIMEOUT_SECONDS * 1000 + 2_000);
    expect(closed).toEqual({ code: 4541, reason: 'STREAM_STEPUP_TIMEOUT' });
    expect(socket.messages.find((m) => m.type === 'bye')).toMatchObject({ code: 'STREAM_STEPUP_TIMEOUT', close: 4541 });

    // Reconnecting does not wash the step-up away: the new socket is asked at once.
    const again = new TestSocket(gw.url, { token: user.accessToken });
    sockets.push(again);
    await again.next('ready');
    const required = await again.next('stepup.required');
    expect(required.reason).toBe('impostor');
    const proof = await login(node, OWNER);
    again.sendJson({ type: 'stepup', token: proof.accessToken });
    await again.until('stepup.passed');
    // Proven: the session owes nothing any more.
    const third = new TestSocket(gw.url, { token: user.accessToken });
    sockets.push(third);
    await third.next('ready');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(third.messages.map((m) => m.type)).toEqual(['ready']);
  });

  it('refuses a stepup when none is pending, and a token of another account', async () => {
    const user = await login(node, OWNER);
    const socket = new TestSocket(gw.url, { token: user.accessToken });
    sockets.push(socket);
    await socket.next('ready');
    socket.sendJson({ type: 'stepup', token: user.accessToken });
    expect(await socket.next('error')).toMatchObject({
      code: 'STEPUP_INVALID',
      ref: 'stepup',
      message: expect.stringMatching(/no step-up is pending/),
    });

    const { socket: asked } = await streamingImpostor(await login(node, OWNER));
    const stranger = await login(node, `stranger-${process.pid}`);
    asked.sendJson({ type: 'stepup', token: stranger.accessToken });
    const refused = await asked.until('error');
    expect(refused).toMatchObject({ code: 'STEPUP_INVALID', message: expect.stringMatching(/another account/) });
  });
  it('a session that owes a step-up can neither enrol (socket or HTTP) nor delete the model', async () => {
    // The account's connection limit: earlier tests' sockets go first.
    for (const earlier of sockets.splice(0)) {
      earlier.close();
      await earlier.closed;
    }
    const user = await login(node, OWNER);
    const { socket } = await streamingImpostor(user);
    // The thief who fails verification tries to make the model their own instead.
    socket.sendJson({ type: 'enroll.begin', stream: 9, modality: 'motion', rate: 20, channels: ['x', 'y', 'z'] });
    let refused = await socket.until('error');
    while (refused.ref !== 'enroll.begin') refused = await socket.until('error');
    expect(refused).toMatchObject({ code: 'BIOMETRIC_STEPUP_OWED', stream: 9 });
    const headers = { authorization: `Bearer ${user.accessToken}` };
    const csv = `x,y,z\n${Array.from({ length: 1_200 }, (_, i) => `${i % 7},${i % 5},${i % 3}`).join('\n')}\n`;
    const enrol = await fetch(`${gw.url}/v1/biometrics/enrollments?rate=20`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'text/csv' },
      body: csv,
    });
    expect(enrol.status).toBe(403);
    expect(((await enrol.json()) as { error: { code: string } }).error.code).toBe('BIOMETRIC_STEPUP_OWED');
    const deleted = await fetch(`${gw.url}/v1/biometrics/model`, { method: 'DELETE', headers });
    expect(deleted.status).toBe(403);
    expect(((await deleted.json()) as { error: { code: string } }).error.code).toBe('BIOMETRIC_STEPUP_OWED');
  });

  it('lists the authenticator app among the methods when the account has one', async () => {
    const totp = moduleOf(gw, 'login').totp;
    const { secret } = await totp.begin(OWNER, 'owner');
    await totp.confirm(OWNER, await generate({ secret }));
    try {
      const { required } = await streamingImpostor(await login(node, OWNER));
      expect(required.methods).toEqual(['password', 'code', 'totp']);
    } finally {
      await totp.remove(OWNER);
    }
  });

  it('is proven by a factor alone: an authenticator code shown after the request, or a passkey over its own challenge', async () => {
    const login_ = gw.gateway.modules.find((m) => m.name === 'login') as unknown as { totp: TotpFactors };
    const soft = new SoftAuthenticator('localhost', 'http://localhost:8080');
    const owner = await login(node, OWNER);
    const call = async (path: string, body?: unknown) => {
      const res = await fetch(`${gw.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${owner.accessToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      return (await res.json()) as Record<string, any>;
    };
    const { credential, response } = soft.create((await call('/v1/passkeys/registration-options')).options);
    expect((await call('/v1/passkeys', { name: 'owner phone', response })).id).toBe(credential.id);
    // The app is set up directly (the HTTP setup would now need a session proven by the passkey).
    const { secret } = await login_.totp.begin(OWNER, 'owner');
    await login_.totp.confirm(OWNER, await generate({ secret }));
    try {
      // TOTP: a code from before the request (a step already accepted) is refused; a code shown now passes.
      const first = await streamingImpostor(await login(node, OWNER));
      expect(first.required.methods).toEqual(['password', 'code', 'totp', 'passkey']);
      expect(first.required.passkey?.options.challenge).toEqual(expect.any(String));
      const now = await generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 });
      first.socket.sendJson({ type: 'stepup', code: '000000' === now ? '111111' : '000000' });
      expect(await first.socket.until('error')).toMatchObject({ code: 'MFA_CODE_INVALID', ref: 'stepup' });
      first.socket.sendJson({ type: 'stepup', code: now });
      expect(await first.socket.until('stepup.passed')).toEqual({ type: 'stepup.passed', trust: 0 });

      // The same code again (seen over the owner's shoulder) proves nothing on the next step-up.
      const second = await streamingImpostor(await login(node, OWNER));
      second.socket.sendJson({ type: 'stepup', code: now });
      expect(await second.socket.until('error')).toMatchObject({ code: 'MFA_CODE_INVALID', ref: 'stepup' });

      // Passkey: an assertion over a challenge that is not this step-up's (a login's) is refused, and
      // the socket is asked again with a new challenge; an assertion over that one passes.
      const loginOptions = (await call('/v1/sessions/passkey/options')).options;
      second.socket.sendJson({ type: 'stepup', passkey: soft.get(credential, loginOptions) });
      expect(await second.socket.until('error')).toMatchObject({ code: 'PASSKEY_CHALLENGE_INVALID', ref: 'stepup' });
      const again = await second.socket.until('stepup.required');
      expect(again.passkey?.options.challenge).not.toBe(second.required.passkey?.options.challenge);
      second.socket.sendJson({ type: 'stepup', passkey: soft.get(credential, again.passkey!.options) });
      expect(await second.socket.until('stepup.passed')).toEqual({ type: 'stepup.passed', trust: 0 });
      await eventually(async () => {
        const audit = await gw.gateway.context.audit.listForUser(OWNER, { limit: 200 });
        const passed = audit
          .filter((e) => e.event === 'biometric.stepup' && e.outcome === 'success')
          .map((e) => e.detail?.method);
        return passed.includes('totp') && passed.includes('passkey');
      }, 'both step-ups audited with their factor');
    } finally {
      await login_.totp.remove(OWNER);
      await fetch(`${gw.url}/v1/passkeys/${credential.id}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${owner.accessToken}` },
      });
    }
  });
});
