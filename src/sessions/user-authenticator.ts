import { VigilError } from '../../protocol/errors.ts';
import type { Authenticator, RequestInfo } from '../server/http/route.ts';
import type { Principal } from '../server/http/principal.ts';
import type { PrincipalResolver } from './principal-resolver.ts';

const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;

/** The raw bearer token of a request, or undefined. */
export function bearerToken(req: Pick<RequestInfo, 'headers'>): string | undefined {
  return BEARER.exec(req.headers.authorization ?? '')?.[1];
}

/** `Authorization: Bearer <access token>` → the caller's Principal (live session), or a TOKEN_* error. */
export function userAuthenticator(resolver: PrincipalResolver): Authenticator<Principal> {
  return {
    scheme: 'bearer',
    async authenticate(req: RequestInfo): Promise<Principal> {
      const token = bearerToken(req);
      if (!token) throw new VigilError('TOKEN_MISSING', {}, { headers: { 'www-authenticate': 'Bearer' } });
      const { userId, sessionId, tokenId, expiresAt } = await resolver.resolve(token);
      return { userId, sessionId, tokenId, expiresAt };
    },
  };
}

/**
 * The same, for the routes that enrol or manage second factors: a session that must still enrol
 * one (VIGIL_MFA_REQUIRE=everyone) is accepted here and nowhere else.
 */
export function enrolmentAuthenticator(resolver: PrincipalResolver): Authenticator<Principal> {
  return {
    scheme: 'bearer',
    async authenticate(req: RequestInfo): Promise<Principal> {
      const token = bearerToken(req);
      if (!token) throw new VigilError('TOKEN_MISSING', {}, { headers: { 'www-authenticate': 'Bearer' } });
      const { userId, sessionId, tokenId, expiresAt } = await resolver.resolveForEnrolment(token);
      return { userId, sessionId, tokenId, expiresAt };
    },
  };
}
