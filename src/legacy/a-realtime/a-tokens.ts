import { randomBytes } from 'node:crypto';
import { VigilError } from '../../../protocol/errors.ts';
import type { SessionRecord, SessionService } from '../../sessions/session-service.ts';
import { secondsLeft } from '../shared/session-ttl.ts';

export const A_TOKEN_KIND = 'legacy-a';
const TOKEN = /^Token[ \t]+([0-9a-f]{40})[ \t]*$/i;

/**
 * Dialect A's DRF-style tokens: 40 random hex characters, attached to a real session, so they are
 * listed with the user's sessions, revoked with them (logout, password change, withdrawal) and
 * audited. Only the session service knows them, by hash.
 */
export class ATokens {
  constructor(private readonly sessions: SessionService) {}

  async issue(session: SessionRecord): Promise<string> {
    const token = randomBytes(20).toString('hex');
    await this.sessions.attachToken(session, A_TOKEN_KIND, token, secondsLeft(session));
    return token;
  }

  /** The live session of a token; TOKEN_REVOKED for an unknown or ended one. */
  async resolve(token: string): Promise<SessionRecord> {
    const session = /^[0-9a-f]{40}$/i.test(token)
      ? await this.sessions.resolveAttachedToken(A_TOKEN_KIND, token.toLowerCase())
      : undefined;
    if (!session) throw new VigilError('TOKEN_REVOKED');
    return session;
  }

  /** `Authorization: Token <40 hex>` (DRF TokenAuthentication) → the live session. */
  async fromHeader(authorization: string | undefined): Promise<SessionRecord> {
    if (!authorization) throw new VigilError('TOKEN_MISSING');
    const match = TOKEN.exec(authorization);
    if (!match) throw new VigilError('TOKEN_MALFORMED', { reason: 'expected Authorization: Token <40 hex characters>' });
    return this.resolve(match[1]!);
  }
}
