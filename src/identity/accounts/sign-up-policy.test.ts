import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentity, type IdentityServices } from '../identity-module.ts';
import { createNotify, type Notify } from '../../notify/notify-module.ts';
import { testConfig } from '../../../test/support/config.ts';
import { dropTestData } from '../../../test/support/gateway.ts';
import { startNode, type Node } from '../../../test/sessions/support.ts';

// Legacy dialects override the configured verification/approval requirements per sign-up
// (D always verifies by mail, C always has an operator approve). Real Mongo and Redis.
const config = testConfig({
  VIGIL_REQUIRE_VERIFICATION: '0',
  VIGIL_REQUIRE_APPROVAL: '0',
  VIGIL_DEV_OUTBOX: '1',
  VIGIL_EMBEDDED_WORKERS: '0',
});
let node: Node;
let notify: Notify;
let identity: IdentityServices;

beforeAll(async () => {
  node = await startNode(config);
  notify = createNotify(node.context);
  const built = createIdentity(node.context, {
    notifier: notify.notifier,
    sessions: node.core.sessions,
    userAuth: node.core.authenticator,
    enrolmentAuth: node.core.enrolmentAuthenticator,
  });
  await built.module.start?.();
  identity = built.services;
});

afterAll(async () => {
  await notify.module.close?.();
  await node.close();
  await dropTestData(config);
});

describe('a sign-up policy that differs from the deployment', () => {
  it('without overrides the configuration decides: active at once', async () => {
    const { account } = await identity.accounts.signUp({ email: 'plain@example.com', password: 'passphrase 12' });
    expect(account.status).toBe('active');
    expect(account.approvalRequired).toBeUndefined();
  });

  it('requireVerification keeps the account unverified until its contact is confirmed', async () => {
    const { account } = await identity.accounts.signUp(
      { email: 'verify@example.com', password: 'passphrase 12' },
      {},
      { requireVerification: true, sendVerification: false },
    );
    expect(account.status).toBe('unverified');
    const verified = await identity.accounts.markContactVerified('email', 'verify@example.com');
    expect(verified?.status).toBe('active');
  });

  it('requireApproval starts pending, and is remembered so a later verification still ends in pending', async () => {
    const pending = await identity.accounts.signUp({ phone: '01030000001' }, {}, { requireApproval: true });
    expect(pending.account.status).toBe('pending');
    expect(pending.account.approvalRequired).toBe(true);

    const both = await identity.accounts.signUp(
      { phone: '01030000002' },
      {},
      { requireVerification: true, requireApproval: true, sendVerification: false },
    );
    expect(both.account.status).toBe('unverified');
    const verified = await identity.accounts.markContactVerified('sms', '+821030000002');
    expect(verified?.status).toBe('pending');
    expect((await identity.accounts.approve(both.account.id)).status).toBe('active');
  });

  it('an account needing verification must name an email or phone', async () => {
    await expect(
      identity.accounts.signUp({ username: 'nocontact', password: 'passphrase 12' }, {}, { requireVerification: true }),
    ).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
  });
});
