import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, screenshot } from '../support/browser.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { enrolmentPart, testPart, SPEC } from '../continuous/wisdm.ts';
import { biometricsOf, eventually, sendSamples } from '../continuous/support.ts';
import { TestSocket, closedWithin } from '../realtime/support.ts';

/**
 * The operator console in a real browser (Debian's chromium, headless) against a real gateway:
 * sign in with the admin token, approve a pending account, watch that account's device move its
 * trust curve live while it streams, revoke the session and see the device's socket close.
 */
const ADMIN_TOKEN = 'console-test-admin-token-0123456789';
let gw: TestGateway;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  gw = await startTestGateway({ VIGIL_CONSOLE: 'true', VIGIL_ADMIN_TOKEN: ADMIN_TOKEN, VIGIL_REQUIRE_APPROVAL: 'true' });
  browser = await launchBrowser();
  page = await browser.newPage();
  await page.setViewport({ width: 1200, height: 900 });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await gw?.close();
});

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const textOf = (selector: string) => page.$eval(selector, (el) => el.textContent ?? '');

describe('operator console', () => {
  it('is a page under a strict content security policy that signs in with the admin token only', async () => {
    const res = await page.goto(`${gw.url}/console`);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toMatch(/script-src 'self'/);
    expect(res?.headers()['x-frame-options']).toBe('DENY');
    await page.type('[data-testid=token]', 'not-the-admin-token');
    await page.click('#sign-in button');
    await page.waitForFunction("document.querySelector('[data-testid=sign-in-error]').textContent !== ''");
    expect(await page.$eval('[data-testid=nav]', (el) => el.hasAttribute('hidden'))).toBe(true);
  });

  it('approves a pending account, follows its device’s trust live, and revokes its session', async () => {
    const username = `pending${Date.now() % 1_000_000}`;
    const password = 'correct horse battery';
    const signUp = await post('/v1/accounts', { username, password });
    expect((signUp.body.account as { status: string }).status).toBe('pending');
    expect((await post('/v1/sessions', { identifier: username, password })).status).toBe(403);

    await page.goto(`${gw.url}/console`);
    await page.evaluate("document.querySelector('[data-testid=token]').value = ''");
    await page.type('[data-testid=token]', ADMIN_TOKEN);
    await page.click('#sign-in button');
    const row = `[data-testid=approvals] tr[data-account="${(signUp.body.account as { id: string }).id}"]`;
    await page.waitForSelector(row);
    await screenshot(page, 'console-approvals');
    await page.click(`${row} [data-testid=approve]`);
    await page.waitForSelector(row, { hidden: true });

    // The approved owner logs in, enrols (through the service) and streams from a device.
    const login = await post('/v1/sessions', { identifier: username, password });
    expect(login.status).toBe(201);
    const { accessToken, sessionId } = login.body as { accessToken: string; sessionId?: string };
    const userId = (signUp.body.account as { id: string }).id;
    const service = biometricsOf(gw);
    const accepted = await service.enroll(userId, await enrolmentPart('1603'), { source: 'http', modality: SPEC.modality });
    expect((await service.waitForEnrollment(userId, accepted.enrollmentId, 120_000)).status).toBe('ready');

    await page.click('nav [data-view=accounts]');
    await page.type('[data-testid=lookup-input]', username);
    await page.click('#lookup button');
    await page.waitForFunction("document.querySelector('[data-testid=account-status]').textContent === 'active'");

    const device = new TestSocket(gw.url, { token: accessToken });
    await device.next('ready');
    device.sendJson({ type: 'stream.open', stream: 1, rate: 20, channels: ['x', 'y', 'z'], modality: 'motion' });
    const walk = await testPart('1603');
    // The device streams in real time (half a second of samples every 500 ms) until revoked.
    let streaming = true;
    const streamed = (async () => {
      const frame = 10;
      const t0 = Date.now();
      for (let at = 0, seq = 0; streaming && at + frame <= walk.length; at += frame) {
        const wait = t0 + ((at + frame) * 1000) / walk.rate - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        if (device.ws.readyState !== device.ws.OPEN) return;
        const part = { ...walk, length: frame, data: walk.data.subarray(at * 3, (at + frame) * 3) };
        seq = sendSamples(device, 1, part, seq, frame, t0 + (at * 1000) / walk.rate);
      }
    })();
    try {
      const points = async () =>
        page
          .$eval('[data-testid=trust-chart] polyline', (el) => (el.getAttribute('points') ?? '').trim().split(' ').length)
          .catch(() => 0);
      await eventually(async () => (await points()) >= 5, 'the trust curve to show five windows', 30_000);
      const seen = await points();
      await eventually(async () => (await points()) > seen, 'the trust curve to move on', 30_000);
      expect(await textOf('[data-testid=trust-legend]')).toMatch(/(genuine|uncertain|impostor|replay) \(trust -?\d/);
      await screenshot(page, 'console-trust');

      const live = `[data-testid=sessions] tr[data-session="${sessionId ?? ''}"]`;
      const sessionRow = sessionId ? live : '[data-testid=sessions] tbody tr';
      await page.waitForSelector(sessionRow);
      await page.click(`${sessionRow} [data-testid=revoke]`);
      const closed = await closedWithin(device, 10_000);
      expect(closed).toEqual({ code: 4520, reason: 'TOKEN_REVOKED' });
      await page.waitForFunction("document.querySelectorAll('[data-testid=sessions] tbody tr').length === 0");
      await screenshot(page, 'console-revoked');
    } finally {
      streaming = false;
      device.close();
      await streamed;
    }
  }, 180_000);

  it('shows the audit log filtered by account and event', async () => {
    await page.click('nav [data-view=audit]');
    await page.type('#audit-filter [name=event]', 'account.approved');
    await page.click('#audit-filter button');
    await page.waitForFunction(`(() => {
      const rows = [...document.querySelectorAll('[data-testid=audit] tbody tr')];
      return rows.length > 0 && rows.every((r) => r.children[1].textContent === 'account.approved');
    })()`);
    await screenshot(page, 'console-audit');
  });

  it('pages the audit log without skipping events of the same millisecond', async () => {
    const at = new Date();
    const userId = `audit-paging-${Date.now()}`;
    await gw.gateway.mongo.db
      .collection('audit')
      .insertMany(['a', 'b', 'c'].map((tag) => ({ at, event: 'login.failed', outcome: 'failure', userId, detail: { tag } })));
    const seen: string[] = [];
    let after: string | undefined;
    for (let page = 0; page < 4; page++) {
      const res = await fetch(`${gw.url}/v1/admin/audit?userId=${userId}&limit=1${after ? `&after=${after}` : ''}`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      const body = (await res.json()) as { events: Array<{ detail: { tag: string } }>; next?: string };
      seen.push(...body.events.map((e) => e.detail.tag));
      if (!body.next) break;
      after = body.next;
    }
    expect(seen.sort()).toEqual(['a', 'b', 'c']);
  });
});
