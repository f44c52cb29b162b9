import { randomUUID } from 'node:crypto';
import type { Account } from '../../identity/accounts/account.ts';
import type { SessionRecord, SessionService } from '../../sessions/session-service.ts';
import { hs512Secret, hs512Signer, type JwtSigner } from '../../tokens/jwt-signer.ts';
import { secondsLeft } from '../shared/session-ttl.ts';

export const B_TOKEN_KIND = 'legacy-b';

/**
 * B's tokens: HS512 JWTs with the document's header (`{"alg":"HS512"}`) and claims
 * (`iat`, `sub` = authId, `exp`) plus a `jti`, signed with the shared secret B's resource servers
 * verify with. Each is attached to a real session, so it is listed, revoked and audited with it.
 */
export class BTokens {
  private signer: JwtSigner | undefined;

  constructor(
    private readonly sessions: SessionService,
    private readonly ttlSeconds: number,
  ) {}

  /** Imports the secret once (WebCrypto is async); refuses one shorter than 64 bytes. */
  async start(secret: string): Promise<void> {
    this.signer = hs512Signer(await hs512Secret(secret, 'VIGIL_LEGACY_B_JWT_SECRET'));
  }

  async issue(account: Account, session: SessionRecord): Promise<string> {
    if (!this.signer) throw new Error('BTokens.start() has not run');
    const iat = Math.floor(Date.now() / 1000);
    const ttl = Math.min(this.ttlSeconds, secondsLeft(session));
    const token = await this.signer.sign({
      iat,
      sub: account.username ?? String(account.number),
      exp: iat + ttl,
      jti: randomUUID(),
    });
    await this.sessions.attachToken(session, B_TOKEN_KIND, token, ttl);
    return token;
  }
}
