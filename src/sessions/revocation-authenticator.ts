import { VigilError } from '../../protocol/errors.ts';
import type { Authenticator } from '../server/http/route.ts';
import type { Principal } from '../server/http/principal.ts';
import type { SessionService } from './session-service.ts';

/**
 * The authenticator of the client-facing revocation routes. There a token refused as revoked is
 * likely the retry of a revocation answered 503 (done on the master, maybe on no replica yet), and
 * the client takes the refusal as "ended": it is given only once replicas hold every deletion so
 * far, else 503 again. Tokens refused for anything else (expired, forged) prove nothing: as before.
 */
export function revocationAuthenticator(auth: Authenticator<Principal>, sessions: SessionService): Authenticator<Principal> {
  return {
    scheme: auth.scheme,
    async authenticate(req) {
      try {
        return await auth.authenticate(req);
      } catch (err) {
        if (err instanceof VigilError && err.code === 'TOKEN_REVOKED') await sessions.requireEndsReplicated();
        throw err;
      }
    },
  };
}
