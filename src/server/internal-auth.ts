import { createHash, timingSafeEqual } from 'node:crypto';
import { VigilError } from '../../protocol/errors.ts';
import type { Authenticator, RequestInfo } from './http/route.ts';

export interface InternalCaller {
  internal: true;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Guards an endpoint meant for the operator's own systems (Prometheus, resource servers that
 * introspect): `Authorization: Bearer <token>`, compared in constant time. Without a token it is
 * open in development and test (local tools, the test suite) and closed in production.
 */
export function internalCredential(options: {
  endpoint: string;
  variable: string;
  token: string | undefined;
  production: boolean;
}): Authenticator<InternalCaller> {
  const expected = options.token ? digest(options.token) : undefined;
  const params = { endpoint: options.endpoint, variable: options.variable };
  return {
    scheme: 'internal',
    async authenticate(req: RequestInfo): Promise<InternalCaller> {
      if (!expected) {
        if (options.production) throw new VigilError('INTERNAL_ENDPOINT_DISABLED', params);
        return { internal: true };
      }
      const match = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
      // Hashing both sides first gives equal lengths, so timingSafeEqual never throws or leaks length.
      if (!match || !timingSafeEqual(digest(match[1]!.trim()), expected))
        throw new VigilError('INTERNAL_CREDENTIAL_REQUIRED', params);
      return { internal: true };
    },
  };
}
