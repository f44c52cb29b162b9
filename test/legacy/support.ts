import type { StartOptions } from '../../src/gateway/gateway.ts';
import { request as httpRequest } from 'node:http';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { ADMIN_TOKEN, ROOMY_LIMITS, client as identityClient, type Reply } from '../identity/support.ts';

export { outbox, latestCode, codeIn, sleep, type Reply } from '../identity/support.ts';

/** The identity tests' JSON client over fetch, plus PUT (C's admin catalogue). */
export function client(base: string) {
  const put = async <T = Record<string, unknown>>(
    path: string,
    body: unknown,
    headers: Record<string, string> = {},
  ): Promise<Reply<T>> => {
    const res = await fetch(base + path, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T, headers: res.headers };
  };
  return { ...identityClient(base), put };
}
export type Client = ReturnType<typeof client>;
export { ADMIN_TOKEN };

/** 64 bytes, as HS512 requires. */
export const B_SECRET = 'legacy-b-test-secret-0123456789abcdef-0123456789abcdef-0123456789';

/** A gateway serving the given dialects, with the dev outbox, an admin token and roomy limits. */
export function startLegacyGateway(
  dialects: string,
  overrides: Record<string, string> = {},
  options: StartOptions = {},
): Promise<TestGateway> {
  return startTestGateway(
    {
      VIGIL_LEGACY_DIALECTS: dialects,
      VIGIL_LEGACY_B_JWT_SECRET: B_SECRET,
      VIGIL_DEV_OUTBOX: '1',
      VIGIL_ADMIN_TOKEN: ADMIN_TOKEN,
      VIGIL_DELIVERY_BACKOFF_MS: '50',
      VIGIL_LOGIN_PER_IDENTIFIER: '1000',
      ...ROOMY_LIMITS,
      ...overrides,
    },
    options,
  );
}

export interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

/**
 * A real HTTP request with node:http, for what fetch refuses to send: B documents
 * `GET /api/auth/check/auth-code` with a JSON body.
 */
export function rawRequest(url: string, method: string, body?: string, headers: Record<string, string> = {}): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const req = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname + target.search,
        method,
        headers: body === undefined ? headers : { 'content-length': String(Buffer.byteLength(body)), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}
