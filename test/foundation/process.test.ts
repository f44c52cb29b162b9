import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, describe, expect, it } from 'vitest';
import { testConfig } from '../support/config.ts';
import { dropTestData, spawnGateway } from '../support/gateway.ts';

const config = testConfig();
afterAll(() => dropTestData(config));

describe('the gateway process', () => {
  it('serves readiness and a valid OpenAPI 3.1 document, then stops cleanly on SIGTERM', async () => {
    const gw = await spawnGateway(config);
    expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);

    const doc = (await (await fetch(`${gw.url}/openapi.json`)).json()) as { openapi: string; paths: Record<string, unknown> };
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/healthz', '/readyz', '/metrics']));

    const started = Date.now();
    gw.child.kill('SIGTERM');
    expect(await gw.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(gw.output()).toMatch(/"msg":"stopped"/);
  });

  it('refuses to start on bad configuration and names the variable', async () => {
    const main = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', main], {
      env: { ...process.env, PORT: 'http', REDIS_URL: 'localhost:6379' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(78);
    expect(stderr).toMatch(/PORT: .*"http"/);
    expect(stderr).toMatch(/REDIS_URL: /);
  });
});
