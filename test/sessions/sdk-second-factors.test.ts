import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SecondFactorClient,
  VigilRequestError,
  passkeyStepUp,
  totpStepUp,
  type PasskeyAuthenticator,
} from '../../protocol/client/index.ts';
import { SoftAuthenticator, type SoftCredential } from '../support/soft-authenticator.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';

/** The SDK's second-factor helpers against a real gateway, a software authenticator standing in for the browser. */
const RP_ID = 'vigil.test';
const ORIGIN = 'https://app.vigil.test';
let gw: TestGateway;
let client: SecondFactorClient;

beforeAll(async () => {
  gw = await startTestGateway({ VIGIL_WEBAUTHN_RP_ID: RP_ID, VIGIL_WEBAUTHN_ORIGINS: ORIGIN, VIGIL_LOGIN_PER_IP: '1000' });
  client = new SecondFactorClient({ baseUrl: gw.url });
});
afterAll(() => gw?.close());

/** What browserPasskeys() is in a page: here a software authenticator holding its credentials. */
function softPasskeys(): PasskeyAuthenticator & { held: SoftCredential[] } {
  const soft = new SoftAuthenticator(RP_ID, ORIGIN);
  const held: SoftCredential[] = [];
  return {
    held,
    async create(options) {
      const { credential, response } = soft.create(options as { challenge: string; user: { id: string } });
      held.push(credential);
      return response;
    },
    async get(options) {
      const allowed = (options.allowCredentials as Array<{ id: string }> | undefined)?.map((c) => c.id) ?? [];
      const credential = held.find((c) => allowed.length === 0 || allowed.includes(c.id));
      if (!credential) throw new Error('NotAllowedError');
      return soft.get(credential, options);
    },
  };
}

const PASSWORD = 'correct horse battery';

describe('SDK second-factor helpers', () => {
  it('run both passkey ceremonies, the TOTP setup and the second steps, and build stepup answers', async () => {
    const username = `sdk${process.pid}`;
    await fetch(`${gw.url}/v1/accounts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password: PASSWORD }),
    });
    const first = await client.login(username, PASSWORD);
    if ('mfa' in first) throw new Error('no second factor yet');
    const passkeys = softPasskeys();
    const added = await client.addPasskey(first.accessToken, 'sdk laptop', passkeys);
    expect(added.name).toBe('sdk laptop');
    const usernameless = await client.loginWithPasskey(passkeys);
    expect(usernameless.user.id).toBe(first.user.id);
    // With a factor on the account, the next one is added from a session proven by it.
    const setup = await client.setupTotp(usernameless.accessToken);
    const { recoveryCodes } = await client.confirmTotp(usernameless.accessToken, await generate({ secret: setup.secret }));
    expect(recoveryCodes).toHaveLength(10);

    const challenge = await client.login(username, PASSWORD);
    if (!('mfa' in challenge)) throw new Error('expected a second step');
    expect(challenge.mfa.methods).toEqual(['totp', 'recovery_code', 'passkey']);
    expect((await client.completeMfaWithPasskey(challenge.mfa.ticket, passkeys)).user.id).toBe(first.user.id);
    const again = (await client.login(username, PASSWORD)) as { mfa: { ticket: string } };
    expect((await client.completeMfa(again.mfa.ticket, { recoveryCode: recoveryCodes[0]! })).user.id).toBe(first.user.id);

    const refused = await client.completeMfa(again.mfa.ticket, { code: '000000' }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(VigilRequestError);
    expect((refused as VigilRequestError).code).toBe('MFA_TICKET_INVALID');

    expect((await client.listPasskeys(usernameless.accessToken)).passkeys.map((p) => p.id)).toEqual([added.id]);
    expect((await client.renamePasskey(usernameless.accessToken, added.id, 'renamed')).name).toBe('renamed');

    const options = { challenge: 'c'.repeat(43), allowCredentials: [{ id: added.id, type: 'public-key' }] };
    const required = {
      type: 'stepup.required' as const,
      reason: 'impostor' as const,
      trust: -4,
      deadline: Date.now() + 60_000,
      timeoutSeconds: 60,
      methods: ['password' as const, 'code' as const, 'totp' as const, 'passkey' as const],
      passkey: { options, expiresIn: 60 },
    };
    const answer = await passkeyStepUp(required, passkeys);
    expect(answer).toMatchObject({ type: 'stepup', passkey: { id: added.id } });
    expect(totpStepUp('123456')).toEqual({ type: 'stepup', code: '123456' });
    expect((await client.deletePasskey(usernameless.accessToken, added.id)).removed).toBe(true);
  });
});
