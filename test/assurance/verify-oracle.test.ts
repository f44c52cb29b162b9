import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VerificationResult } from '../../protocol/biometrics.ts';
import type { SampleSet } from '../../src/biometrics/samples.ts';
import type { TestGateway } from '../support/gateway.ts';
import {
  adminVerify,
  enrolCsv,
  errorOf,
  newUser,
  send,
  slice,
  startBiometricGateway,
  toCsv,
  walking,
  type User,
} from '../biometrics/support.ts';

// The hill-climbing attack: a thief with an access token uploads a synthetic signal, reads each
// window's score, nudges the signal and asks again, until it passes. The account's own answer
// therefore carries only counts and the fused decision, and windows per hour are capped; per-window
// scores stay an operator's evaluation view behind the admin credential.

const WINDOWS_PER_HOUR = 60;
let gw: TestGateway;
let owner: User;
let probe: SampleSet;

beforeAll(async () => {
  gw = await startBiometricGateway({ VIGIL_BIOMETRIC_VERIFY_WINDOWS_PER_HOUR: String(WINDOWS_PER_HOUR) });
  const walk = await walking();
  owner = await newUser(gw.url);
  const view = await enrolCsv(gw, owner, slice(walk.get('1600')!, 0, 1_200));
  expect(view.status).toBe('ready');
  probe = slice(walk.get('1601')!, 0, 550); // 21 windows of someone else
}, 120_000);

afterAll(() => gw?.close());

const verify = (user: User) =>
  send<Record<string, unknown>>(gw.url, 'POST', '/v1/biometrics/verify', user, toCsv(probe), 'text/csv');

describe('no scoring oracle', () => {
  it('the account is told counts and the decision only: no per-window scores, mean score or threshold', async () => {
    const reply = await verify(owner);
    expect(reply.status).toBe(200);
    expect(Object.keys(reply.body).sort()).toEqual(['accepted', 'modelVersion', 'ratio', 'total', 'verdict']);
    expect(reply.body.total).toBe(21);
  });

  it('windows verified per account per hour are capped, across uploads', async () => {
    const other = await newUser(gw.url);
    await enrolCsv(gw, other, slice((await walking()).get('1602')!, 0, 1_200));
    expect((await verify(other)).status).toBe(200); // 21
    expect((await verify(other)).status).toBe(200); // 42
    const third = await verify(other); // 63 > 60
    expect(third.status).toBe(429);
    expect(errorOf(third).code).toBe('RATE_LIMITED');
    expect(third.headers.get('retry-after')).toMatch(/^\d+$/);
  });

  it('operators get per-window scores at the admin endpoint, with the admin credential only', async () => {
    const evaluated = await adminVerify(gw.url, owner, toCsv(probe), 'text/csv');
    expect(evaluated.status).toBe(200);
    expect(evaluated.body.windows).toHaveLength(21);
    expect(evaluated.body.windows[0]).toEqual({ index: 0, start: 0, score: expect.any(Number), accepted: expect.any(Boolean) });
    expect(typeof evaluated.body.threshold).toBe('number');
    // The account's own token does not open the operator's view.
    const asUser = await send<VerificationResult>(
      gw.url,
      'POST',
      `/v1/admin/accounts/${owner.userId}/biometrics/verify`,
      owner,
      toCsv(probe),
      'text/csv',
    );
    expect(asUser.status).toBe(401);
  });
});
