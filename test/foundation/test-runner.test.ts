import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The suite's own runner settings (vitest.config.ts) must turn any unhandled error or crashed
 * test process red, and end every run with the slowest files. Each case runs vitest, with the
 * project's config, on one small test file in a scratch directory inside the checkout (so it
 * resolves the project's own vitest).
 */
const ROOT = resolve(import.meta.dirname, '../..');

describe('npm test', () => {
  let dir: string;
  beforeAll(async () => {
    await mkdir(join(ROOT, '.data'), { recursive: true });
    dir = await mkdtemp(join(ROOT, '.data', 'runner-'));
    await writeFile(
      join(dir, 'vitest.config.ts'),
      `import base from ${JSON.stringify(join(ROOT, 'vitest.config.ts'))};
import { defineConfig } from 'vitest/config';
export default defineConfig({ ...base, test: { ...base.test, include: ['*.test.ts'], globalSetup: [] } });
`,
    );
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  async function run(name: string, body: string): Promise<{ code: number | null; output: string }> {
    await writeFile(join(dir, `${name}.test.ts`), `import { it } from 'vitest';\n${body}\n`);
    const child = spawn(
      join(ROOT, 'node_modules/.bin/vitest'),
      ['run', '--config', join(dir, 'vitest.config.ts'), `${name}.test.ts`],
      {
        cwd: dir,
        env: { ...process.env, CI: '1', FORCE_COLOR: '0' },
      },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((done) => child.on('close', done));
    return { code, output };
  }

  it('passes a passing file and lists the slowest files', async () => {
    const { code, output } = await run('passing', `it('passes', () => {});`);
    expect(output).toMatch(/Slowest test files:\n\s+\d+\.\d s {2}passing\.test\.ts/);
    expect(code).toBe(0);
  });

  it('fails when an error escapes every test (unhandled rejection after the test passed)', async () => {
    const { code, output } = await run(
      'unhandled',
      `it('passes, but leaks a rejection', () => { setTimeout(() => Promise.reject(new Error('escaped')), 0); return new Promise((r) => setTimeout(r, 50)); });`,
    );
    expect(output).toMatch(/Unhandled/);
    expect(code).not.toBe(0);
  });

  it('fails when a test process dies (as a native abort kills it)', async () => {
    const { code } = await run(
      'crash',
      `it('aborts its process', () => { process.kill(process.pid, 'SIGABRT'); return new Promise((r) => setTimeout(r, 5000)); });`,
    );
    expect(code).not.toBe(0);
  });
});
