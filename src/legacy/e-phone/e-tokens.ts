import { randomUUID } from 'node:crypto';
import type { Account } from '../../identity/accounts/account.ts';
import type { SessionRecord, SessionService } from '../../sessions/session-service.ts';
import type { JwtSigner } from '../../tokens/jwt-signer.ts';
import { secondsLeft } from '../shared/session-ttl.ts';

export const E_TOKEN_KIND = 'legacy-e';
/** `aud` of E's tokens: never accepted where a core access token (aud VIGIL_JWT_AUDIENCE, typ at+jwt) is. */
export const E_AUDIENCE = 'legacy-e';

/**
 * E's sign-in token: a JWT like the document's (`u` = the numeric user id, `iat`, `exp`, `iss`,
 * `sub`), signed by the gateway's Ed25519 key ring, so E's resource servers verify it with the
 * JWKS. It lives a day like the document's, or less when its session ends first, and is attached
 * to that session: listed, revoked and audited with it.
 */
export class ETokens {
  constructor(
    private readonly signer: JwtSigner,
    private readonly sessions: SessionService,
    private readonly options: { issuer: string; ttlSeconds: number },
  ) {}

  async issue(account: Account, session: SessionRecord): Promise<string> {
    const iat = Math.floor(Date.now() / 1000);
    const ttl = Math.min(this.options.ttlSeconds, secondsLeft(session));
    const token = await this.signer.sign(
      {
        u: account.number,
        iat,
        exp: iat + ttl,
        iss: this.options.issuer,
        aud: E_AUDIENCE,
        sub: account.id,
        sid: session.id,
        jti: randomUUID(),
      },
      { typ: 'JWT' },
    );
    await this.sessions.attachToken(session, E_TOKEN_KIND, token, ttl);
    return token;
  }
}
