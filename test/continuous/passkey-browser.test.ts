import { createServer } from 'node:net';
import type { Browser, CDPSession, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concatSamples, type SampleSet } from '../../src/biometrics/samples.ts';
import { launchBrowser } from '../support/browser.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { TestSocket } from '../realtime/support.ts';
import { enrolCohort, enrolSubject, sendSamples } from './support.ts';
import { testPart } from './wisdm.ts';

/**
 * Passkeys in a real browser: Debian's headless chromium with a CDP virtual authenticator (CTAP2,
 * internal, resident keys, user verification) on the gateway's test page. The page registers a
 * passkey over the JSON endpoints, logs in with it username-less, and answers a socket step-up
 * with it — navigator.credentials.create/get and toJSON() as any web app would call them.
 */
let gw: TestGateway;
let browser: Browser;
let page: Page;
let cdp: CDPSession;
let authenticatorId: string;
let origin: string;
let takeover: SampleSet;
const PASSWORD = 'correct horse battery';

/** WebAuthn needs the origin to be known before the gateway starts: a free port on loopback. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeAll(async () => {
  const port = await freePort();
  origin = `http://localhost:${port}`;
  gw = await startTestGateway({
    PORT: String(port),
    VIGIL_WEBAUTHN_RP_ID: 'localhost',
    VIGIL_WEBAUTHN_ORIGINS: origin,
    VIGIL_WEBAUTHN_TEST_PAGE: 'true',
    VIGIL_CV_POLICY_IMPOSTOR: 'step-up',
    VIGIL_CV_STEPUP_TIMEOUT_SECONDS: '60',
    VIGIL_CV_BATCH_DEADLINE_MS: '2',
  });
  browser = await launchBrowser();
  page = await browser.newPage();
  const [owner, other] = await Promise.all([testPart('1611'), testPart('1616')]);
  takeover = concatSamples(20, ['x', 'y', 'z'], [owner.data.subarray(0, 200 * 3), other.data]);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await gw?.close();
});

async function post(path: string, body: unknown) {
  const res = await fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

interface PageApi {
  vigilPasskeys: {
    register(token: string, name: string): Promise<PageResult>;
    login(): Promise<PageResult>;
    assert(options: unknown): Promise<unknown>;
  };
}
type PageResult = { status: number; body: Record<string, any> };
const claims = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { amr: string[] };

describe('passkeys in a real browser', () => {
  it('registers a passkey, logs in with it username-less, and answers a socket step-up with it', async () => {
    const username = `browser${process.pid}`;
    expect((await post('/v1/accounts', { username, password: PASSWORD })).status).toBe(201);
    const login = await post('/v1/sessions', { identifier: username, password: PASSWORD });
    const userId = login.body.user.id as string;
    await enrolCohort(gw);
    await enrolSubject(gw, userId, '1611');

    const res = await page.goto(`${origin}/test/passkeys`);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toMatch(/script-src 'self'/);
    await page.waitForFunction('window.vigilPasskeys !== undefined');
    cdp = await page.createCDPSession();
    await cdp.send('WebAuthn.enable');
    ({ authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    }));

    // Registration: navigator.credentials.create() over the gateway's options, from a recent login.
    const registered = await page.evaluate<[string], (token: string) => Promise<PageResult>>(
      (token) => (globalThis as unknown as PageApi).vigilPasskeys.register(token, 'headless chromium'),
      login.body.accessToken as string,
    );
    expect(registered.status).toBe(201);
    expect(registered.body).toMatchObject({ name: 'headless chromium', transports: ['internal'] });
    // The authenticator holds it as a discoverable (resident) credential for this RP.
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials).toMatchObject([{ isResidentCredential: true, rpId: 'localhost' }]);

    // Username-less login: the page sends no identifier; the authenticator picks the account.
    const passkeyLogin = await page.evaluate<[], () => Promise<PageResult>>(() =>
      (globalThis as unknown as PageApi).vigilPasskeys.login(),
    );
    expect(passkeyLogin.status).toBe(201);
    expect(passkeyLogin.body.user.id).toBe(userId);
    expect(claims(passkeyLogin.body.accessToken).amr).toEqual(['hwk', 'user', 'mfa']);

    // A socket of that session turns impostor; the step-up is answered by the same passkey.
    const socket = new TestSocket(gw.url, { token: passkeyLogin.body.accessToken as string });
    try {
      await socket.next('ready');
      socket.sendJson({ type: 'stream.open', stream: 1, rate: 20, channels: ['x', 'y', 'z'] });
      sendSamples(socket, 1, takeover, 0);
      const required = await socket.until('stepup.required', 30_000);
      expect(required.methods).toContain('passkey');
      const assertion = await page.evaluate(
        (options) => (globalThis as unknown as PageApi).vigilPasskeys.assert(options),
        required.passkey!.options,
      );
      socket.sendJson({ type: 'stepup', passkey: assertion });
      expect(await socket.until('stepup.passed')).toEqual({ type: 'stepup.passed', trust: 0 });
    } finally {
      socket.close();
    }
  }, 240_000);
});
