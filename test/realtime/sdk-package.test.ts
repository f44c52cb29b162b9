import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { CHANNEL_ONLY, login, startNode, type Node } from './support.ts';

/**
 * The SDK as its users get it: `npm run sdk:pack` builds and packs protocol/client, the tarball
 * is installed into a scratch project (with `ws`, from the npm cache), and a plain Node program
 * and a TypeScript consumer use it by its package name against a real gateway.
 */
const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

let gw: TestGateway;
let node: Node;
let project: string;

beforeAll(async () => {
  gw = await startTestGateway(CHANNEL_ONLY);
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
    const tsc = join(ROOT, 'node_modules/.bin/tsc');
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
});
