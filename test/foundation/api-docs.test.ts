import type { Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, screenshot } from '../support/browser.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';

/** /docs in a real browser: Redoc renders the gateway's own OpenAPI document, all from the gateway. */
let gw: TestGateway;
let browser: Browser;

beforeAll(async () => {
  gw = await startTestGateway();
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await gw?.close();
});

describe('API docs page', () => {
  it('renders the operations of /openapi.json, loading nothing from elsewhere', async () => {
    const page = await browser.newPage();
    const foreign: string[] = [];
    const errors: string[] = [];
    // Redoc's sidebar links its vendor logo from a CDN; the page's CSP refuses it, so a foreign
    // request may be attempted but must never complete.
    page.on('requestfinished', (request) => {
      const url = request.url();
      if (!url.startsWith(gw.url) && !url.startsWith('blob:') && !url.startsWith('data:')) foreign.push(url);
    });
    page.on('console', (message) => {
      if (message.type() === 'error' && !/Content Security Policy|ERR_BLOCKED_BY/.test(message.text()))
        errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(String(error)));
    page.on('response', (response) => {
      if (response.status() >= 400) errors.push(`${response.status()} ${response.url()}`);
    });
    const res = await page.goto(`${gw.url}/docs`, { waitUntil: 'networkidle0' });
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toMatch(/default-src 'none'/);
    await page.waitForFunction("document.body.innerText.includes('List accounts by status')", { timeout: 30_000 });
    const text = await page.evaluate('document.body.innerText');
    expect(text).toMatch(/Vigil/);
    expect(text).toMatch(/Start signing with a new key/); // an admin operation
    expect(text).toMatch(/\/v1\/sessions/);
    await page.setViewport({ width: 1280, height: 900 });
    await screenshot(page, 'api-docs', { fullPage: false });
    expect(foreign).toEqual([]);
    expect(errors).toEqual([]);
  }, 60_000);
});
