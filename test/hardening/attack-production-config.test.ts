import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { listeningPort } from '../../scripts/child-gateway.ts';
import { configEnv, testConfig } from '../support/config.ts';
import { dropTestData } from '../support/gateway.ts';
import { ATTACKER_ADDRESS, clientFrom } from './support/from-address.ts';

// Settings that are each valid but unsafe together. A gateway started with them used to run:
// the dev outbox (every code and link the gateway sends) answered anyone who could reach a public
// listener, and production stored its generated signing keys in the clear. Now the process
// refuses to start and names the variable. Each case starts `src/main.ts` as `npm start` would.

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
const config = testConfig();
afterAll(() => dropTestData(config));

type Outcome = { refused: true; code: number | null; stderr: string } | { refused: false; url: string };

/** Starts the gateway with `env` (NODE_ENV removed when undefined); says whether it refused. */
async function start(env: Record<string, string | undefined>): Promise<Outcome> {
  const merged: Record<string, string> = {};
  // The production bcrypt cost: outside NODE_ENV=test the suite's cheap one is refused on its own.
  const base = { ...process.env, ...configEnv(config), VIGIL_BCRYPT_COST: '10', LOG_LEVEL: 'info' };
  for (const [key, value] of Object.entries({ ...base, ...env })) if (value !== undefined) merged[key] = value;
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], { env: merged, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let output = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const outcome = await Promise.race([
    exited.then((code): Outcome => ({ refused: true, code, stderr })),
    listeningPort(child, (chunk) => (output += chunk.toString())).then(
      (port): Outcome => ({ refused: false, url: `http://127.0.0.1:${port}` }),
      () => new Promise<Outcome>(() => {}),
    ),
  ]);
  if (!outcome.refused) {
    cleanup.push(async () => {
      child.kill('SIGTERM');
      await exited;
    });
  }
  return outcome;
}
const cleanup: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const stop of cleanup) await stop();
});

describe('unsafe deployments refuse to start', () => {
  it('the dev outbox on a public listener: refused, so nobody reads codes off it', async () => {
    const outcome = await start({ NODE_ENV: 'development', HOST: '0.0.0.0', VIGIL_DEV_OUTBOX: '1' });
    if (!outcome.refused) {
      // What the attacker saw on the old code: another machine reading the outbox.
      const port = new URL(outcome.url).port;
      const reply = await clientFrom(`http://${ATTACKER_ADDRESS}:${port}`, ATTACKER_ADDRESS).get('/v1/dev/outbox?to=a%40b.c');
      expect.fail(`started and served the outbox to ${ATTACKER_ADDRESS} with ${reply.status}`);
    }
    expect(outcome.code).toBe(78);
    expect(outcome.stderr).toMatch(/VIGIL_DEV_OUTBOX: .*loopback listener \(got HOST=0\.0\.0\.0\)/);
  });

  it('the dev outbox without an explicit development NODE_ENV: refused', async () => {
    const outcome = await start({ NODE_ENV: undefined, VIGIL_DEV_OUTBOX: '1' });
    expect(outcome.refused && outcome.code).toBe(78);
    expect(outcome.refused && outcome.stderr).toMatch(/VIGIL_DEV_OUTBOX: .*NODE_ENV=development .*NODE_ENV unset/);
  });

  it('production with generated signing keys stored in the clear: refused', async () => {
    const outcome = await start({ NODE_ENV: 'production', VIGIL_DEV_OUTBOX: undefined });
    expect(outcome.refused && outcome.code).toBe(78);
    expect(outcome.refused && outcome.stderr).toMatch(/VIGIL_JWT_KEY_ENCRYPTION_KEY: required when NODE_ENV=production/);
  });

  it('production with the encryption key starts', async () => {
    const outcome = await start({ NODE_ENV: 'production', VIGIL_JWT_KEY_ENCRYPTION_KEY: 'k'.repeat(43) });
    expect(outcome.refused).toBe(false);
  });
});
