import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerMessageOf } from '../../protocol/messages.ts';
import type { SampleSet } from '../../src/biometrics/samples.ts';
import { errorOf, send, slice, toCsv, walking, type User } from '../biometrics/support.ts';
import { sendSamples } from '../continuous/support.ts';
import { TestSocket } from '../realtime/support.ts';
import { client, outbox, startLegacyGateway, type Client } from '../legacy/support.ts';
import { TestClock } from '../support/clock.ts';
import type { TestGateway } from '../support/gateway.ts';

// The thief's attack on the owner's identity: with only a stolen access token (its session logged
// in long ago, or refreshed since), replace the biometric model with their own motion or delete
// it. Every path that changes the model — HTTP, the socket and dialect A's make_model — must ask
// for a fresh login instead, and every change the real owner makes is audited and mailed.

const MAX_AGE_SECONDS = 2;
const clock = new TestClock();
const PASSWORD = 'owner passphrase 42';
let gw: TestGateway;
let api: Client;
let recording: SampleSet;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  gw = await startLegacyGateway(
    'a',
    {
      VIGIL_BIOMETRIC_PROOF_MAX_AGE_SECONDS: String(MAX_AGE_SECONDS),
      VIGIL_SCORING_THREADS: '1',
      VIGIL_BIOMETRIC_ENROLLMENTS_PER_HOUR: '1000',
    },
    { clock },
  );
  api = client(gw.url);
  recording = slice([...(await walking()).values()][0]!, 0, 1_200);
});

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await gw?.close();
});

interface Owner extends User {
  email: string;
  username: string;
  refreshToken: string;
}

let count = 0;
async function signUp(): Promise<{ username: string; email: string }> {
  const username = `owner${++count}${process.pid}`;
  const email = `${username}@example.com`;
  const created = await api.post('/v1/accounts', { username, email, password: PASSWORD });
  expect(created.status).toBe(201);
  return { username, email };
}

async function logIn(who: { username: string; email: string }): Promise<Owner> {
  const reply = await api.post<{ accessToken: string; refreshToken: string; user: { id: string } }>('/v1/sessions', {
    identifier: who.username,
    password: PASSWORD,
  });
  expect(reply.status).toBe(201);
  const { accessToken, refreshToken, user } = reply.body;
  return { ...who, userId: user.id, token: accessToken, refreshToken, headers: { authorization: `Bearer ${accessToken}` } };
}

const enrol = (user: User) => send(gw.url, 'POST', '/v1/biometrics/enrollments?rate=20', user, toCsv(recording), 'text/csv');

async function socketEnrolment(token: string): Promise<ServerMessageOf<'enroll.failed'>> {
  const socket = new TestSocket(gw.url, { token });
  sockets.push(socket);
  await socket.next('ready');
  socket.sendJson({ type: 'enroll.begin', stream: 3, modality: 'motion', rate: 20, channels: ['x', 'y', 'z'] });
  sendSamples(socket, 3, recording, 0, 50);
  socket.sendJson({ type: 'enroll.commit', stream: 3 });
  return socket.until('enroll.failed');
}

function makeModel(token: string) {
  const form = new FormData();
  form.set('token', token);
  form.set('data', new Blob([toCsv(recording)], { type: 'text/csv' }), 'walk.csv');
  return fetch(`${gw.url}/server/authenticate/make_model/`, { method: 'POST', body: form }).then(async (res) => ({
    status: res.status,
    body: (await res.json()) as { detail?: string },
  }));
}

describe('changing the owner needs fresh proof', () => {
  it('a stolen access token (an old login, or refreshed since) cannot enrol, re-enrol or delete, over HTTP, the socket or dialect A', async () => {
    const owner = await logIn(await signUp());
    expect((await enrol(owner)).status).toBe(202); // the owner, right after logging in
    const aLogin = await api.post<{ token: string }>('/server/members/login/', { username: owner.username, password: PASSWORD });
    expect(aLogin.status).toBe(200);

    // The thief holds the tokens once the login behind them is older than the allowed age.
    clock.advance(MAX_AGE_SECONDS * 1000 + 1_000);
    const reenrol = await enrol(owner);
    expect(reenrol.status).toBe(403);
    expect(errorOf(reenrol).code).toBe('BIOMETRIC_PROOF_STALE');
    const deleted = await send(gw.url, 'DELETE', '/v1/biometrics/model', owner);
    expect(deleted.status).toBe(403);
    expect(errorOf(deleted).code).toBe('BIOMETRIC_PROOF_STALE');

    // Refreshing keeps the session (and its login time): it proves nothing new.
    const refreshed = await api.post<{ accessToken: string }>('/v1/sessions/refresh', { refreshToken: owner.refreshToken });
    expect(refreshed.status).toBe(200);
    const viaRefresh = await enrol({ ...owner, headers: { authorization: `Bearer ${refreshed.body.accessToken}` } });
    expect(errorOf(viaRefresh).code).toBe('BIOMETRIC_PROOF_STALE');

    const failed = await socketEnrolment(refreshed.body.accessToken);
    expect(failed.code).toBe('BIOMETRIC_PROOF_STALE');

    const legacy = await makeModel(aLogin.body.token);
    expect(legacy.status).toBe(403);
    expect(legacy.body.detail).toContain(`${MAX_AGE_SECONDS}초`);

    // Nothing changed: the owner's one enrolment is still the only one, and no model was deleted.
    const audit = await gw.gateway.mongo.db
      .collection('audit')
      .find({ userId: owner.userId, event: 'biometric.owner_change' })
      .toArray();
    expect(audit.filter((r) => r.outcome === 'success')).toHaveLength(1);
    expect(audit.filter((r) => r.outcome === 'failure').length).toBeGreaterThanOrEqual(5);
  });

  it('a fresh login may change the model; the owner is told by mail and the change is audited', async () => {
    const who = await signUp();
    const fresh = await logIn(who);
    expect((await enrol(fresh)).status).toBe(202);
    // Training may already have stored the model: deleting an existing one also takes the password.
    const reauth = { 'vigil-reauth': `password ${Buffer.from(PASSWORD).toString('base64')}` };
    const deleted = await send(gw.url, 'DELETE', '/v1/biometrics/model', { ...fresh, headers: { ...fresh.headers, ...reauth } });
    expect(deleted.status).toBe(200);
    const mails = await outbox(api, who.email, 2);
    expect(mails.filter((m) => m.template === 'biometric-changed').map((m) => m.text)).toEqual(
      expect.arrayContaining([expect.stringContaining('새 생체 정보가 등록'), expect.stringContaining('모델이 삭제')]),
    );
    const changes = await gw.gateway.mongo.db
      .collection('audit')
      .find({ userId: fresh.userId, event: 'biometric.owner_change', outcome: 'success' })
      .toArray();
    expect(changes.map((r) => (r.detail as { change: string }).change).sort()).toEqual(['deleted', 'enrolled']);
  });

  it('a socket enrolment started with a fresh login works', async () => {
    const fresh = await logIn(await signUp());
    const socket = new TestSocket(gw.url, { token: fresh.token });
    sockets.push(socket);
    await socket.next('ready');
    socket.sendJson({ type: 'enroll.begin', stream: 4, modality: 'motion', rate: 20, channels: ['x', 'y', 'z'] });
    sendSamples(socket, 4, recording, 0, 50);
    socket.sendJson({ type: 'enroll.commit', stream: 4 });
    let progress = await socket.until('enroll.progress', 20_000);
    while (progress.stage === 'collecting') progress = await socket.until('enroll.progress', 20_000);
    expect(progress).toMatchObject({ stream: 4, stage: 'queued' });
  });
});
