import { Redis } from 'ioredis';
import type { ErrorBody } from '../../protocol/errors.ts';
import { encodeFrame } from '../../protocol/frames.ts';
import type { EnrollmentView } from '../../protocol/http/biometrics.ts';
import type { VerificationResult } from '../../protocol/biometrics.ts';
import type { EnrollmentEvent } from '../../src/biometrics/enrollment/enrollment-events.ts';
import { sampleSet, type SampleSet } from '../../src/biometrics/samples.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';

export { WISDM_DIR, walking } from '../support/wisdm.ts';

/** Rows [from, to) of a sample set (a view). */
export function slice(samples: SampleSet, from: number, to: number): SampleSet {
  const c = samples.channels.length;
  return sampleSet(samples.rate, samples.channels, samples.data.subarray(from * c, Math.min(to, samples.length) * c));
}

export function toCsv(samples: SampleSet, options: { time?: boolean; header?: boolean } = {}): string {
  const c = samples.channels.length;
  const lines: string[] = [];
  if (options.header !== false) lines.push([...(options.time ? ['t'] : []), ...samples.channels].join(','));
  for (let r = 0; r < samples.length; r++) {
    const row = Array.from(samples.data.subarray(r * c, (r + 1) * c), (v) => String(v));
    if (options.time) row.unshift(String((r * 1000) / samples.rate));
    lines.push(row.join(','));
  }
  return `${lines.join('\n')}\n`;
}

export function toJson(samples: SampleSet): string {
  const c = samples.channels.length;
  const rows = Array.from({ length: samples.length }, (_, r) => Array.from(samples.data.subarray(r * c, (r + 1) * c)));
  return JSON.stringify({ rate: samples.rate, channels: samples.channels, samples: rows });
}

/** The samples as consecutive binary frames of `perFrame` samples (the socket protocol's codec). */
export function toFrames(
  samples: SampleSet,
  perFrame = 25,
  options: { sampleType?: 'float32' | 'int16'; seqFrom?: number } = {},
): Buffer {
  const c = samples.channels.length;
  const frames: Uint8Array[] = [];
  for (let from = 0, seq = options.seqFrom ?? 0; from < samples.length; from += perFrame, seq++) {
    const to = Math.min(samples.length, from + perFrame);
    frames.push(
      encodeFrame({
        stream: 1,
        seq,
        timestamp: 1_700_000_000_000 + (from * 1000) / samples.rate,
        channels: c,
        values: samples.data.subarray(from * c, to * c),
        sampleType: options.sampleType ?? 'float32',
        ...(options.sampleType === 'int16' ? { scale: 0.001 } : {}),
      }),
    );
  }
  return Buffer.concat(frames);
}

export const ROOMY_BIOMETRIC_LIMITS: Record<string, string> = {
  VIGIL_SIGNUP_PER_IP_HOURLY: '10000',
  VIGIL_LOGIN_PER_IP: '10000',
  VIGIL_BIOMETRIC_ENROLLMENTS_PER_HOUR: '1000',
  VIGIL_BIOMETRIC_VERIFY_PER_MINUTE: '1000',
  VIGIL_BIOMETRIC_VERIFY_WINDOWS_PER_HOUR: '1000000',
  // Every re-enrolment and deletion of these users re-enters the password (see newUser).
  VIGIL_PASSWORD_CHECKS_PER_USER_HOURLY: '10000',
};

export const BIOMETRIC_ADMIN_TOKEN = 'biometric-test-admin-token-0123456789';

/** A gateway with one scoring thread (a 2-core machine runs two test files at once), roomy limits and an admin token. */
export function startBiometricGateway(overrides: Record<string, string> = {}): Promise<TestGateway> {
  return startTestGateway({
    VIGIL_SCORING_THREADS: '1',
    VIGIL_ADMIN_TOKEN: BIOMETRIC_ADMIN_TOKEN,
    ...ROOMY_BIOMETRIC_LIMITS,
    ...overrides,
  });
}

/** The operator's evaluation view of a verification (per-window scores), for `user`'s model. */
export function adminVerify<T = VerificationResult>(
  base: string,
  user: Pick<User, 'userId'>,
  body: RequestInit['body'],
  contentType?: string,
  query = '',
): Promise<Reply<T>> {
  return send<T>(base, 'POST', `/v1/admin/accounts/${user.userId}/biometrics/verify${query}`, ADMIN, body, contentType);
}

const ADMIN: User = {
  userId: 'admin',
  token: BIOMETRIC_ADMIN_TOKEN,
  headers: { authorization: `Bearer ${BIOMETRIC_ADMIN_TOKEN}` },
};

export interface User {
  userId: string;
  token: string;
  headers: Record<string, string>;
}

let userCount = 0;

/** Signs up and logs in a fresh account over HTTP. */
export async function newUser(base: string, name = `bio${++userCount}`): Promise<User> {
  const password = 'biometric passphrase 1';
  const created = await fetch(`${base}/v1/accounts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: name, password }),
  });
  if (created.status !== 201) throw new Error(`sign-up failed: ${created.status} ${await created.text()}`);
  const login = await fetch(`${base}/v1/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ identifier: name, password }),
  });
  const body = (await login.json()) as { accessToken: string; user: { id: string } };
  if (login.status !== 201) throw new Error(`login failed: ${login.status}`);
  // The owner re-enters the password with every request that may replace or delete a model
  // (docs/biometrics.md); the proof itself is tested in test/assurance/model-replace.test.ts.
  const headers = { authorization: `Bearer ${body.accessToken}`, ...reauthHeader(password) };
  return { userId: body.user.id, token: body.accessToken, headers };
}

/** `Vigil-Reauth` with the password, as a client re-entering it sends it. */
export function reauthHeader(password: string): Record<string, string> {
  return { 'vigil-reauth': `password ${Buffer.from(password).toString('base64')}` };
}

export const PASSWORD = 'biometric passphrase 1';

export interface Reply<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

export async function send<T = Record<string, unknown>>(
  base: string,
  method: string,
  path: string,
  user: User | undefined,
  body?: RequestInit['body'],
  contentType?: string,
): Promise<Reply<T>> {
  const headers: Record<string, string> = { ...(user?.headers ?? {}) };
  if (contentType) headers['content-type'] = contentType;
  const res = await fetch(base + path, { method, headers, body });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T, headers: res.headers };
}

export const errorOf = (reply: Reply<unknown>) => (reply.body as ErrorBody).error;

/** Polls the enrolment until it is ready or failed. */
export async function settled(base: string, user: User, id: string, timeoutMs = 60_000): Promise<EnrollmentView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reply = await send<EnrollmentView>(base, 'GET', `/v1/biometrics/enrollments/${id}`, user);
    if (reply.status !== 200) throw new Error(`status answered ${reply.status}: ${JSON.stringify(reply.body)}`);
    if (reply.body.status === 'ready' || reply.body.status === 'failed') return reply.body;
    if (Date.now() > deadline) throw new Error(`enrolment ${id} still ${reply.body.status} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

/** Enrols over HTTP with a CSV body and waits for the model. */
export async function enrolCsv(gw: TestGateway, user: User, samples: SampleSet, query = 'rate=20'): Promise<EnrollmentView> {
  const reply = await send<{ enrollmentId: string }>(
    gw.url,
    'POST',
    `/v1/biometrics/enrollments?${query}`,
    user,
    toCsv(samples),
    'text/csv',
  );
  if (reply.status !== 202) throw new Error(`enrolment answered ${reply.status}: ${JSON.stringify(reply.body)}`);
  return settled(gw.url, user, reply.body.enrollmentId);
}

/** Records every enrolment event the gateway publishes (a real Redis subscriber). */
export async function listenToEnrollments(gw: TestGateway): Promise<{ events: EnrollmentEvent[]; close(): Promise<void> }> {
  const redis = new Redis(gw.config.REDIS_URL, { lazyConnect: true });
  await redis.connect();
  const events: EnrollmentEvent[] = [];
  redis.on('message', (_channel: string, message: string) => events.push(JSON.parse(message) as EnrollmentEvent));
  await redis.subscribe(`${gw.config.REDIS_PREFIX}biometrics:enrollments`);
  return {
    events,
    async close() {
      await redis.quit();
    },
  };
}
