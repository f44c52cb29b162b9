import { createHash, timingSafeEqual } from 'node:crypto';
import { VigilError } from '../../protocol/errors.ts';
import type { Authenticator, RequestInfo } from './http/route.ts';

export interface AdminPrincipal {
  admin: true;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Guards /v1/admin/*: `Authorization: Bearer <VIGIL_ADMIN_TOKEN>`, compared in constant time. */
export function adminAuthenticator(adminToken: string | undefined): Authenticator<AdminPrincipal> {
  const expected = adminToken ? digest(adminToken) : undefined;
  return {
    scheme: 'admin',
    async authenticate(req: RequestInfo): Promise<AdminPrincipal> {
      if (!expected) throw new VigilError('ADMIN_DISABLED');
      const header = req.headers.authorization ?? '';
      const match = /^Bearer\s+(.+)$/i.exec(header);
      // Hashing both sides first gives equal lengths, so timingSafeEqual never throws or leaks length.
      if (!match || !timingSafeEqual(digest(match[1]!.trim()), expected)) throw new VigilError('ADMIN_UNAUTHORIZED');
      return { admin: true };
    },
  };
}
