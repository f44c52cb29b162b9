import { generate } from 'otplib';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamClient } from '../../protocol/client/index.ts';
import type { ServerMessageOf } from '../../protocol/messages.ts';
import type { SampleSet } from '../../src/biometrics/samples.ts';
import { errorOf, send, slice, toCsv, type Reply, type User } from '../biometrics/support.ts';
import { biometricsOf, enrolSubject, eventually, sendSamples, verdicts } from '../continuous/support.ts';
import { enrolmentPart, testPart } from '../continuous/wisdm.ts';
import { client, startLegacyGateway, type Client } from '../legacy/support.ts';
import { TestSocket } from '../realtime/support.ts';
import { TestClock } from '../support/clock.ts';
import type { TestGateway } from '../support/gateway.ts';
import { moduleOf } from '../support/modules.ts';

// The thief who takes the unlocked phone minutes after the owner logged in holds a fresh login:
// enough, once, to make their own motion "the owner". Replacing or deleting an existing model now
// also needs what the thief lacks: the current password (or an authenticator code) with the
// request, or this session streaming as genuine under the current model lately.

const MAX_AGE_SECONDS = 600;
const PASSWORD_CHECKS = 4;
const PASSWORD = 'owner passphrase 42';
const clock = new TestClock();
let gw: TestGateway;
let api: Client;
let ownerWalk: SampleSet;
/** Someone else's walk, long enough to train on. */
let thiefWalk: SampleSet;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  gw = await startLegacyGateway(
    'a',
    {
      VIGIL_BIOMETRIC_PROOF_MAX_AGE_SECONDS: String(MAX_AGE_SECONDS),
      VIGIL_PASSWORD_CHECKS_PER_USER_HOURLY: String(PASSWORD_CHECKS),
      VIGIL_SCORING_THREADS: '1',
      VIGIL_BIOMETRIC_ENROLLMENTS_PER_HOUR: '1000',
      VIGIL_LEGACY_A_MODEL_WAIT_SECONDS: '0',
      VIGIL_CV_BATCH_DEADLINE_MS: '2',
    },
    { clock },
  );
  api = client(gw.url);
  // Other people's models, as in the continuous tests, so that the owner's model reads the owner as genuine.
  for (const subject of ['1600', '1601', '1602']) await enrolSubject(gw, `replace-cohort-${subject}-${process.pid}`, subject);
  ownerWalk = await testPart('1611');
  thiefWalk = slice(await testPart('1616'), 0, 600);
}, 240_000);

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await gw?.close();
});

interface Owner extends User {
  username: string;
}

let count = 0;
/** A new account logged in just now (a fresh login), with no model. */
async function freshAccount(): Promise<Owner> {
  const username = `replace${++count}${process.pid}`;
  expect((await api.post('/v1/accounts', { username, email: `${username}@example.com`, password: PASSWORD })).status).toBe(201);
  return logIn(username);
}

async function logIn(username: string): Promise<Owner> {
  const reply = await api.post<{ accessToken: string; user: { id: string } }>('/v1/sessions', {
    identifier: username,
    password: PASSWORD,
  });
  expect(reply.status).toBe(201);
  const { accessToken, user } = reply.body;
  return { username, userId: user.id, token: accessToken, headers: { authorization: `Bearer ${accessToken}` } };
}

/**
 * The owner's model, trained on a WISDM subject's walk before the theft (set up through the service,
 * not a route under test). Each account walks as its own subject: the streaming owner's model must
 * not learn "the owner versus the owner".
 */
async function withModel(owner: Owner, subject: string): Promise<number> {
  const service = biometricsOf(gw);
  const accepted = await service.enroll(owner.userId, await enrolmentPart(subject), { source: 'http', modality: 'motion' });
  const view = await service.waitForEnrollment(owner.userId, accepted.enrollmentId, 120_000);
  expect(view.status).toBe('ready');
  return view.modelVersion!;
}

const currentVersion = async (owner: Owner) => (await biometricsOf(gw).activeModel(owner.userId)).version;
const passwordHeader = (password: string) => ({ 'vigil-reauth': `password ${Buffer.from(password).toString('base64')}` });
const withHeaders = (user: User, extra: Record<string, string>): User => ({ ...user, headers: { ...user.headers, ...extra } });

const reenrol = (user: User, query = 'rate=20&modality=motion') =>
  send(gw.url, 'POST', `/v1/biometrics/enrollments?${query}`, user, toCsv(thiefWalk), 'text/csv');
const commit = (user: User, id: string) => send(gw.url, 'POST', `/v1/biometrics/enrollments/${id}/commit`, user);
const deleteModel = (user: User) => send(gw.url, 'DELETE', '/v1/biometrics/model', user);

async function socketOf(token: string): Promise<TestSocket> {
  const socket = new TestSocket(gw.url, { token });
  sockets.push(socket);
  await socket.next('ready');
  return socket;
}

/**
 * `walk` on a new verification stream, one hop at a time, until a verdict says `stop`; then the
 * stream ends (so no later window changes the session's standing). Returns that verdict.
 */
async function walkUntil(
  socket: TestSocket,
  stream: number,
  walk: SampleSet,
  stop: (decision: string) => boolean,
): Promise<ServerMessageOf<'verdict'>> {
  socket.sendJson({ type: 'stream.open', stream, rate: 20, channels: ['x', 'y', 'z'] });
  const t0 = Date.now() - (walk.length * 1000) / walk.rate;
  const send = (from: number, to: number) => sendSamples(socket, stream, slice(walk, from, to), from / 25, 25, t0 + from * 50);
  send(0, 50);
  for (let at = 50; at + 25 <= walk.length; at += 25) {
    const [verdict] = await verdicts(socket, 1);
    if (stop(verdict!.decision)) {
      socket.sendJson({ type: 'stream.close', stream });
      return verdict!;
    }
    send(at, at + 25);
  }
  throw new Error(`stream ${stream} never read what it waited for`);
}

type EnrolAnswer = ServerMessageOf<'enroll.failed' | 'enroll.progress' | 'error'>;

/** A whole socket enrolment (begin, samples, commit) and how it ends: refused, or queued for training. */
async function socketEnrolment(
  socket: TestSocket,
  stream: number,
  reauth?: { password?: string; code?: string },
): Promise<EnrolAnswer> {
  socket.sendJson({
    type: 'enroll.begin',
    stream,
    modality: 'motion',
    rate: 20,
    channels: ['x', 'y', 'z'],
    ...(reauth ? { reauth } : {}),
  });
  sendSamples(socket, stream, thiefWalk, 0, 50);
  socket.sendJson({ type: 'enroll.commit', stream });
  const answerOf = () =>
    socket.messages.find(
      (m): m is EnrolAnswer =>
        'stream' in m &&
        m.stream === stream &&
        (m.type === 'enroll.failed' || m.type === 'error' || (m.type === 'enroll.progress' && m.stage === 'queued')),
    );
  await eventually(() => answerOf() !== undefined, `the end of the enrolment on stream ${stream}`, 20_000);
  return answerOf()!;
}

function makeModel(aToken: string, password?: string): Promise<Reply<Record<string, unknown>>> {
  const form = new FormData();
  form.set('token', aToken);
  if (password !== undefined) form.set('password', password);
  form.set('data', new Blob([toCsv(thiefWalk)], { type: 'text/csv' }), 'walk.csv');
  return fetch(`${gw.url}/server/authenticate/make_model/`, { method: 'POST', body: form }).then(async (res) => ({
    status: res.status,
    body: (await res.json()) as Record<string, unknown>,
    headers: res.headers,
  }));
}

async function aLogin(owner: Owner): Promise<string> {
  const reply = await api.post<{ token: string }>('/server/members/login/', { username: owner.username, password: PASSWORD });
  expect(reply.status).toBe(200);
  return reply.body.token;
}

/** How each proven change of the account was proven (audited with it). */
const proofs = async (owner: Owner) =>
  (
    await gw.gateway.mongo.db
      .collection('audit')
      .find({ userId: owner.userId, event: 'biometric.reauth', outcome: 'success' })
      .toArray()
  ).map((r) => (r.detail as { proof: string }).proof);

const refusals = async (owner: Owner) =>
  (
    await gw.gateway.mongo.db
      .collection('audit')
      .find({ userId: owner.userId, event: 'biometric.owner_change', outcome: 'failure' })
      .toArray()
  ).map((r) => (r.detail as { code: string }).code);

describe('replacing or deleting an existing model needs what a thief lacks', () => {
  it('a thief with a fresh-login session who never streamed cannot re-enrol or delete: HTTP, socket, dialect A', async () => {
    const owner = await freshAccount();
    const version = await withModel(owner, '1603');
    const aToken = await aLogin(owner);
    // The thief picks the phone up now: the session logged in moments ago and owes nothing.

    const oneShot = await reenrol(owner);
    expect(oneShot.status).toBe(403);
    expect(errorOf(oneShot).code).toBe('BIOMETRIC_REAUTH_REQUIRED');
    expect(errorOf(oneShot).message).toContain('password');

    // An open enrolment may collect; its commit is what replaces the model.
    const open = await reenrol(owner, 'rate=20&modality=motion&open=true');
    expect(open.status).toBe(202);
    const committed = await commit(owner, (open.body as { enrollmentId: string }).enrollmentId);
    expect(committed.status).toBe(403);
    expect(errorOf(committed).code).toBe('BIOMETRIC_REAUTH_REQUIRED');

    const deleted = await deleteModel(owner);
    expect(deleted.status).toBe(403);
    expect(errorOf(deleted).code).toBe('BIOMETRIC_REAUTH_REQUIRED');

    const socket = await socketOf(owner.token);
    const failed = await socketEnrolment(socket, 3);
    expect(failed).toMatchObject({ type: 'enroll.failed', stream: 3, code: 'BIOMETRIC_REAUTH_REQUIRED' });

    const legacy = await makeModel(aToken);
    expect(legacy.status).toBe(403);
    expect(legacy.body.detail).toContain('password');

    // Nothing changed: the owner's model is still the one, and every refusal is audited.
    expect(await currentVersion(owner)).toBe(version);
    expect((await refusals(owner)).filter((code) => code === 'BIOMETRIC_REAUTH_REQUIRED')).toHaveLength(5);
  });

  it('the owner re-entering the password may re-enrol and delete; wrong passwords are refused and counted', async () => {
    const owner = await freshAccount();
    const version = await withModel(owner, '1605');

    const malformed = await reenrol(withHeaders(owner, { 'vigil-reauth': 'password' }));
    expect(malformed.status).toBe(400);
    expect(errorOf(malformed).details?.[0]?.field).toBe('Vigil-Reauth');

    const reenrolled = await reenrol(withHeaders(owner, passwordHeader(PASSWORD)));
    expect(reenrolled.status).toBe(202);
    const socket = await socketOf(owner.token);
    expect(await socketEnrolment(socket, 4, { password: PASSWORD })).toMatchObject({
      type: 'enroll.progress',
      stage: 'queued',
    });
    const legacy = await makeModel(await aLogin(owner), PASSWORD);
    expect(legacy.status).toBe(200);

    // Guessing: each wrong password is refused, and counted with the account's current-password checks.
    const thief = await freshAccount();
    await withModel(thief, '1607');
    const guesses: Array<Reply<unknown>> = [];
    for (let i = 1; i < PASSWORD_CHECKS; i++) guesses.push(await deleteModel(withHeaders(thief, passwordHeader(`guess ${i}`))));
    for (const guess of guesses) {
      expect(guess.status).toBe(401);
      expect(errorOf(guess)).toMatchObject({ code: 'PASSWORD_INCORRECT', details: [{ field: 'Vigil-Reauth' }] });
    }
    const onSocket = await socketEnrolment(await socketOf(thief.token), 5, { password: 'one more guess' });
    expect(onSocket).toMatchObject({ type: 'enroll.failed', code: 'PASSWORD_INCORRECT' });
    // Even the right password waits now: guesses cannot run on.
    const limited = await deleteModel(withHeaders(thief, passwordHeader(PASSWORD)));
    expect(limited.status).toBe(429);
    expect(errorOf(limited).code).toBe('RATE_LIMITED');
    const wrongInA = await makeModel(await aLogin(thief), 'guess in A');
    expect(wrongInA.status).toBe(429);
    expect(await refusals(thief)).toEqual(expect.arrayContaining(['PASSWORD_INCORRECT', 'RATE_LIMITED']));

    // The owner's delete, proven, goes through (the model the owner replaced above included).
    expect(await currentVersion(owner)).toBeGreaterThanOrEqual(version);
    const deleted = await deleteModel(withHeaders(owner, passwordHeader(PASSWORD)));
    expect(deleted.status).toBe(200);
    expect(await proofs(owner)).toEqual(['password', 'password', 'password', 'password']);
  });

  it('the owner whose session streams as genuine under the current model may change it without re-entering anything', async () => {
    const owner = await freshAccount();
    const version = await withModel(owner, '1611');
    const socket = await socketOf(owner.token);
    const genuine = (decision: string) => decision === 'genuine';
    expect(await walkUntil(socket, 1, ownerWalk, genuine)).toMatchObject({ decision: 'genuine', modelVersion: version });

    // Another session of the same account never streamed: it has no such evidence.
    const other = await logIn(owner.username);
    expect(errorOf(await deleteModel(other)).code).toBe('BIOMETRIC_REAUTH_REQUIRED');

    // The thief walks with the owner's session: its first window that is not genuine takes the evidence away.
    await walkUntil(socket, 2, thiefWalk, (decision) => !genuine(decision));
    expect(errorOf(await deleteModel(owner)).code).toBe('BIOMETRIC_REAUTH_REQUIRED');
    // The owner walks on: recognised again.
    await walkUntil(socket, 8, slice(ownerWalk, 200, ownerWalk.length), genuine);

    expect(await socketEnrolment(socket, 6)).toMatchObject({ type: 'enroll.progress', stage: 'queued' });
    const open = await reenrol(owner, 'rate=20&modality=motion&open=true');
    expect(open.status).toBe(202);
    expect((await commit(owner, (open.body as { enrollmentId: string }).enrollmentId)).status).toBe(202);

    expect(await proofs(owner)).toEqual(['genuine-standing', 'genuine-standing']);

    // Evidence is short-lived (VIGIL_BIOMETRIC_GENUINE_PROOF_SECONDS, 30): a thief who grabs the
    // device and stops its stream inherits it that long at most, while the login stays fresh.
    clock.advance(31_000);
    expect(errorOf(await deleteModel(owner)).code).toBe('BIOMETRIC_REAUTH_REQUIRED');
    // And the login ages out with the proof age.
    clock.advance(MAX_AGE_SECONDS * 1000);
    const fresh = await logIn(owner.username);
    expect(errorOf(await deleteModel(owner)).code).toBe('BIOMETRIC_PROOF_STALE');
    expect(errorOf(await deleteModel(fresh)).code).toBe('BIOMETRIC_REAUTH_REQUIRED');
  });

  it('an authenticator code with the request proves the owner too, once', async () => {
    const owner = await freshAccount();
    await withModel(owner, '1613');
    const totp = moduleOf(gw, 'login').totp;
    const { secret } = await totp.begin(owner.userId, owner.username);
    await totp.confirm(owner.userId, await generate({ secret }));
    const required = await deleteModel(owner);
    expect(errorOf(required)).toMatchObject({
      code: 'BIOMETRIC_REAUTH_REQUIRED',
      message: expect.stringContaining('password or totp'),
    });

    const code = await generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 });
    const wrong = code === '000000' ? '111111' : '000000';
    expect(errorOf(await deleteModel(withHeaders(owner, { 'vigil-reauth': `totp ${wrong}` }))).code).toBe('MFA_CODE_INVALID');
    expect(await socketEnrolment(await socketOf(owner.token), 9, { code })).toMatchObject({
      type: 'enroll.progress',
      stage: 'queued',
    });
    // Seen over the owner's shoulder, the same code proves nothing again.
    expect(errorOf(await deleteModel(withHeaders(owner, { 'vigil-reauth': `totp ${code}` }))).code).toBe('MFA_CODE_INVALID');
  });

  it("the client SDK's enroll() carries the re-authentication", async () => {
    const owner = await freshAccount();
    await withModel(owner, '1614');
    const sdk = new StreamClient({ url: gw.url, WebSocket, getToken: () => owner.token });
    try {
      await sdk.connect();
      const ended = new Promise<string>((resolve) => {
        sdk.on('enroll.failed', (m) => resolve(m.code));
        sdk.on('enroll.progress', (m) => m.stage === 'queued' && resolve('queued'));
      });
      const stream = sdk.enroll({ rate: 20, channels: ['x', 'y', 'z'], modality: 'motion', reauth: { password: PASSWORD } });
      const t0 = Date.now() - (thiefWalk.length * 1000) / thiefWalk.rate;
      for (let at = 0; at < thiefWalk.length; at += 50) {
        stream.send(thiefWalk.data.subarray(at * 3, Math.min(at + 50, thiefWalk.length) * 3), { timestamp: t0 + at * 50 });
      }
      stream.commit();
      expect(await ended).toBe('queued');
      expect(await proofs(owner)).toEqual(['password']);
    } finally {
      sdk.close();
    }
  });

  it('the first enrolment needs only the fresh login, on HTTP, the socket and dialect A', async () => {
    const http = await freshAccount();
    expect((await reenrol(http)).status).toBe(202);
    const overSocket = await freshAccount();
    expect(await socketEnrolment(await socketOf(overSocket.token), 7)).toMatchObject({
      type: 'enroll.progress',
      stage: 'queued',
    });
    const legacy = await freshAccount();
    expect((await makeModel(await aLogin(legacy))).status).toBe(200);
  });
});
