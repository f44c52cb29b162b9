import { VigilError } from '../../protocol/errors.ts';
import type { SessionRecord } from './session-store.ts';

/**
 * How long ago the login behind `session` proved a credential, for changes that need a recent
 * proof (the biometric owner, second factors). A session is created by a login and a refresh keeps
 * its creation time, so refreshing proves nothing; an ended session, or another account's, is
 * infinitely old.
 */
export function loginAgeMs(session: SessionRecord | undefined, userId: string, now = Date.now()): number {
  return session && session.userId === userId ? now - session.createdAt : Number.POSITIVE_INFINITY;
}

/**
 * For changes to how the account logs in: MFA_PROOF_STALE unless the caller's session comes from a
 * login within `maxAgeSeconds`; and once the account has a second factor, MFA_FACTOR_PROOF_REQUIRED
 * unless that login used one (a password-only session made before the factor existed cannot add its
 * own factor or strip the owner's).
 */
export async function requireRecentLogin(
  sessions: { get(sessionId: string): Promise<SessionRecord | undefined> },
  principal: { userId: string; sessionId: string },
  maxAgeSeconds: number,
  options: { secondFactor?: boolean } = {},
): Promise<void> {
  const session = await sessions.get(principal.sessionId);
  if (!(loginAgeMs(session, principal.userId) <= maxAgeSeconds * 1000)) {
    throw new VigilError('MFA_PROOF_STALE', { seconds: maxAgeSeconds });
  }
  if (options.secondFactor && !session?.amr?.includes('mfa')) throw new VigilError('MFA_FACTOR_PROOF_REQUIRED');
}
