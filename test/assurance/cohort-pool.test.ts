import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SampleSet } from '../../src/biometrics/samples.ts';
import type { TestGateway } from '../support/gateway.ts';
import { enrolCsv, newUser, slice, startBiometricGateway, walking, type User } from '../biometrics/support.ts';

// Who may lend their enrolment to other accounts' cohorts: only verified, active accounts, and
// at most a few per sign-up address and day — a farm of fresh accounts from one place lends two
// enrolments, not twenty. (Every account here signs up from 127.0.0.1 on the same day.)

const PER_ADDRESS = 2;
let gw: TestGateway;
let walk: Map<string, SampleSet>;

beforeAll(async () => {
  gw = await startBiometricGateway({
    VIGIL_BIOMETRIC_COHORT_VETTING: 'true',
    VIGIL_BIOMETRIC_COHORT_MIN_ACCOUNT_AGE_SECONDS: '0',
    VIGIL_BIOMETRIC_COHORT_PER_SIGNUP_IP_DAILY: String(PER_ADDRESS),
  });
  walk = await walking();
}, 60_000);

afterAll(() => gw?.close());

async function verify(user: User): Promise<void> {
  await gw.gateway.mongo.db
    .collection('accounts')
    .updateOne({ _id: user.userId as never }, { $set: { email: `${user.userId}@example.com`, emailVerifiedAt: new Date() } });
}

const enrolment = (subject: string) => slice(walk.get(subject)!, 0, 1_200);

describe('the cohort pool', () => {
  it('takes neither unverified accounts nor more than the per-address cap', async () => {
    for (const subject of ['1600', '1601']) await enrolCsv(gw, await newUser(gw.url), enrolment(subject)); // unverified
    for (const subject of ['1602', '1603', '1604', '1605']) {
      const user = await newUser(gw.url);
      await verify(user);
      await enrolCsv(gw, user, enrolment(subject));
    }
    const victim = await newUser(gw.url);
    const view = await enrolCsv(gw, victim, enrolment('1611'));
    expect(view.status).toBe('ready');
    expect(view.metrics?.cohortMembers).toBe(PER_ADDRESS);
  }, 120_000);
});
