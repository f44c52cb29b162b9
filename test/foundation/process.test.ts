import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
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
    expectFaithful(doc as unknown as OpenApiDoc);

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

interface Operation {
  security?: unknown[];
  parameters?: Array<{ name: string; schema: unknown }>;
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
}
interface OpenApiDoc {
  servers?: Array<{ url: string }>;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown> };
}

/**
 * Beyond the OpenAPI validator: every schema compiles under a strict JSON Schema 2020-12
 * validator (Ajv, so no draft-7 array-form `items`), every operation says its security (public
 * ones `[]`), and rules the server enforces in code are declared.
 */
function expectFaithful(doc: OpenApiDoc): void {
  expect(doc.servers?.length).toBeGreaterThan(0);
  const ajv = new Ajv2020({ strict: true, strictRequired: false, validateFormats: false, allowUnionTypes: true });
  const $defs = JSON.parse(JSON.stringify(doc.components.schemas).replaceAll('#/components/schemas/', '#/$defs/')) as object;
  const compile = (where: string, schema: unknown) => {
    const rewritten = JSON.parse(JSON.stringify(schema).replaceAll('#/components/schemas/', '#/$defs/')) as object;
    expect(() => ajv.compile({ ...rewritten, $defs }), where).not.toThrow();
  };
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const at = `${method.toUpperCase()} ${path}`;
      expect(Array.isArray(operation.security), `${at}: security`).toBe(true);
      for (const parameter of operation.parameters ?? []) compile(`${at} ${parameter.name}`, parameter.schema);
      for (const [type, media] of Object.entries(operation.requestBody?.content ?? {}))
        compile(`${at} body ${type}`, media.schema);
      for (const [status, response] of Object.entries(operation.responses)) {
        for (const media of Object.values(response.content ?? {})) compile(`${at} ${status}`, media.schema);
      }
    }
  }
  expect(doc.paths['/healthz']!.get!.security).toEqual([]);
  const signUp = doc.paths['/v1/accounts']!.post!.requestBody!.content['application/json']!.schema as {
    anyOf: unknown[];
    properties: { password: { minLength: number } };
  };
  expect(signUp.anyOf).toEqual([{ required: ['username'] }, { required: ['email'] }, { required: ['phone'] }]);
  expect(signUp.properties.password.minLength).toBe(8);
}
