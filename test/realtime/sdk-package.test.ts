import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize, resolve } from 'node:path';
import type { Browser } from 'puppeteer-core';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../support/browser.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { CHANNEL_ONLY, login, startNode, type Node } from './support.ts';

/**
 * The SDK as its users get it: `npm run sdk:pack` builds and packs protocol/client, the tarball
 * is installed into a scratch project (with `ws`, from the npm cache), and a plain Node program,
 * a TypeScript consumer and a web page in headless Chromium (on another origin, so through CORS)
 * use it against a real gateway.
 */
const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

let gw: TestGateway;
let node: Node;
let project: string;
let site: Server;
let siteUrl: string;
let browser: Browser | undefined;

/** A web app's own origin: its page, and the installed package's files under /sdk/. */
function serveSite(): Promise<void> {
  site = createServer((req, res) => {
    void (async () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const dist = join(project, 'node_modules/@vigil-gateway/client/dist');
      const file = path === '/' ? join(project, 'index.html') : normalize(join(dist, path.replace(/^\/sdk\//, '')));
      if (path !== '/' && (!path.startsWith('/sdk/') || !file.startsWith(dist))) return res.writeHead(404).end();
      try {
        const body = await readFile(file);
        res.writeHead(200, { 'content-type': file.endsWith('.js') ? 'text/javascript' : 'text/html' }).end(body);
      } catch {
        res.writeHead(404).end();
      }
    })();
  });
  return new Promise((done) =>
    site.listen(0, '127.0.0.1', () => {
      siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
      done();
    }),
  );
}

beforeAll(async () => {
  await serveSite();
  gw = await startTestGateway({ ...CHANNEL_ONLY, VIGIL_CORS_ORIGINS: siteUrl });
  node = await startNode(gw.config);
  await run('npm', ['run', '--silent', 'sdk:pack'], { cwd: ROOT });
  const packed = (await readdir(join(ROOT, '.data/sdk'))).filter(
    (f) => f.startsWith('vigil-gateway-client-') && f.endsWith('.tgz'),
  );
  expect(packed).toHaveLength(1);
  await mkdir(join(ROOT, '.data'), { recursive: true });
  project = await mkdtemp(join(ROOT, '.data', 'sdk-consumer-'));
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  await run(
    'npm',
    [
      'install',
      join(ROOT, '.data/sdk', packed[0]!),
      'ws@8',
      '@types/ws@8',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--silent',
    ],
    { cwd: project },
  );
}, 180_000);

afterAll(async () => {
  await browser?.close();
  site?.close();
  await node?.close();
  await gw?.close();
  if (project) await rm(project, { recursive: true, force: true });
});

describe('the packed client SDK (@vigil-gateway/client)', () => {
  it('installs from its tarball and streams from a plain Node program, with ws as its WebSocket', async () => {
    const user = await login(node);
    await writeFile(
      join(project, 'stream.mjs'),
      `import WebSocket from 'ws';
import { StreamClient } from '@vigil-gateway/client';
const client = new StreamClient({ url: process.env.URL, WebSocket, getToken: () => process.env.TOKEN });
const ready = await client.connect();
const stream = client.openStream({ rate: 20, channels: ['x', 'y', 'z'] });
const seq = stream.send([1, 2, 3, 4, 5, 6], { ack: true });
const ack = await client.once('ack');
client.close();
console.log(JSON.stringify({ userId: ready.userId, seq, ack }));
`,
    );
    const { stdout } = await run(process.execPath, ['stream.mjs'], {
      cwd: project,
      env: { ...process.env, URL: gw.url, TOKEN: user.accessToken },
      timeout: 20_000,
    });
    const out = JSON.parse(stdout) as { userId: string; seq: number; ack: { stream: number; seq: number } };
    expect(out.userId).toBe(user.userId);
    expect(out.ack).toMatchObject({ stream: 1, seq: out.seq });
  });

  it('ships type declarations a TypeScript consumer compiles against (and that catch misuse)', async () => {
    const good = `import { StreamClient, type StreamClientEvents } from '@vigil-gateway/client';
declare const ws: ConstructorParameters<typeof StreamClient>[0]['WebSocket'];
const client = new StreamClient({ url: 'http://127.0.0.1:1', WebSocket: ws, getToken: () => 'token' });
client.on('verdict', (v: StreamClientEvents['verdict']) => console.log(v.decision, v.trust));
client.openStream({ rate: 20, channels: ['x'] }).send([1]);
`;
    // The native compiler (TypeScript 7, as `npm run typecheck`): the JavaScript one takes ~3× longer.
    const tsc = join(ROOT, 'node_modules/typescript-native/bin/tsc');
    const flags = [
      '--ignoreConfig',
      '--noEmit',
      '--strict',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--target',
      'es2022',
      '--lib',
      'es2023,dom',
    ];
    await writeFile(join(project, 'good.ts'), good);
    await run(tsc, [...flags, 'good.ts'], { cwd: project }).catch((err: { stdout: string }) => {
      throw new Error(`good.ts did not compile:\n${err.stdout}`);
    });
    await writeFile(join(project, 'bad.ts'), good.replace('rate: 20', "rate: '20'"));
    const bad = await run(tsc, [...flags, 'bad.ts'], { cwd: project }).then(
      () => '',
      (err: { stdout: string }) => err.stdout,
    );
    expect(bad).toMatch(/bad\.ts.*error TS2322/);
  });

  it('runs in a browser page on another origin: sign-up and login through CORS, then streaming with the global WebSocket', async () => {
    const username = `browser${Date.now() % 1_000_000}`;
    await writeFile(
      join(project, 'index.html'),
      `<!doctype html><meta charset="utf-8"><script type="module">
import { StreamClient } from '/sdk/client/index.js';
const api = ${JSON.stringify(gw.url)};
const post = (path, body) => fetch(api + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
try {
  const signUp = await post('/v1/accounts', { username: '${username}', password: 'correct horse battery' });
  const tokens = await (await post('/v1/sessions', { identifier: '${username}', password: 'correct horse battery' })).json();
  const client = new StreamClient({ url: api, getToken: () => tokens.accessToken });
  const ready = await client.connect();
  const stream = client.openStream({ rate: 20, channels: ['x', 'y', 'z'] });
  const seq = stream.send([1, 2, 3], { ack: true });
  const ack = await client.once('ack');
  client.close();
  window.result = { signUp: signUp.status, requestId: signUp.headers.get('x-request-id'), userId: ready.userId, seq, ack };
} catch (err) {
  window.result = { error: String(err) };
}
</script>`,
    );
    browser = await launchBrowser();
    const page = await browser.newPage();
    await page.goto(siteUrl);
    await page.waitForFunction('window.result !== undefined', { timeout: 20_000 });
    const result = (await page.evaluate('window.result')) as {
      error?: string;
      signUp: number;
      requestId: string | null;
      userId: string;
      ack: { seq: number };
    };
    expect(result.error).toBeUndefined();
    expect(result.signUp).toBe(201);
    expect(result.requestId).toMatch(/\S/); // an exposed header, readable cross-origin
    expect(result.userId).toMatch(/\S/);
    expect(result.ack).toMatchObject({ stream: 1, seq: 0 });
  }, 60_000);
});
