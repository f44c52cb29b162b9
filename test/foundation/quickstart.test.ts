import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';

/**
 * The README's quickstart, run as written against a real gateway: only the port, the username
 * (unique per run) and the streamed duration (shorter) are changed.
 */
const ROOT = resolve(import.meta.dirname, '../..');
let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(() => gw?.close());

async function quickstartBlock(): Promise<string> {
  const readme = await readFile(resolve(ROOT, 'README.md'), 'utf8');
  const section = readme.split('\n## Quickstart')[1];
  const block = section?.match(/```sh\n([\s\S]*?)```/)?.[1];
  if (!block) throw new Error('README.md has no ```sh block under "## Quickstart"');
  return block;
}

describe('README quickstart', () => {
  it('signs up, logs in, enrols a simulated wearable on the socket, gets verdicts and logs out', async () => {
    const { port } = new URL(gw.url);
    const username = `ada${process.pid}${Date.now() % 100_000}`;
    const script = (await quickstartBlock())
      .replaceAll('localhost:8080', `127.0.0.1:${port}`)
      .replaceAll('"ada"', `"${username}"`)
      .replaceAll('--identifier ada', `--identifier ${username}`)
      .replace('--columns 2,3,4', '--columns 2,3,4 --stream-seconds 8');
    const { stdout } = await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', script], {
      cwd: ROOT,
      timeout: 120_000,
    });
    expect(stdout).toContain(`"username":"${username}"`);
    expect(stdout).toMatch(/model v1 ready/);
    expect(stdout).toMatch(/window 0: (genuine|uncertain|impostor) \(trust/);
    expect(stdout).toMatch(/[1-9]\d* verdicts/);
    expect(stdout.trim().split('\n').at(-1)).toMatch(/"code":"TOKEN_REVOKED"/);
  }, 150_000);
});
