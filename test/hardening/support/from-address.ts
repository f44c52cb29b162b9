import { request } from 'node:http';

export interface AddressedReply<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * A JSON client whose TCP connections leave from `localAddress`: the whole 127.0.0.0/8 is
 * loopback on Linux, so 127.0.0.2 is a second machine as far as the gateway can tell.
 */
export function clientFrom(base: string, localAddress: string, defaults: Record<string, string> = {}) {
  const origin = new URL(base);
  const call = <T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    new Promise<AddressedReply<T>>((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const outgoing = request(
        {
          host: origin.hostname,
          port: origin.port,
          method,
          path,
          localAddress,
          headers: {
            ...defaults,
            ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
            ...headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              // not JSON (metrics text): keep the text
            }
            resolve({ status: res.statusCode ?? 0, body: parsed as T, headers: res.headers });
          });
          res.on('error', reject);
        },
      );
      outgoing.on('error', reject);
      outgoing.end(payload);
    });
  return {
    get: <T = Record<string, unknown>>(path: string, headers?: Record<string, string>) =>
      call<T>('GET', path, undefined, headers),
    post: <T = Record<string, unknown>>(path: string, body?: unknown, headers?: Record<string, string>) =>
      call<T>('POST', path, body, headers),
  };
}

export type AddressedClient = ReturnType<typeof clientFrom>;

/** The owner's machine and an attacker's, both on loopback. */
export const OWNER_ADDRESS = '127.0.0.1';
export const ATTACKER_ADDRESS = '127.0.0.2';
