import { VigilError } from '../../../protocol/errors.ts';
import type { IdentitySessions } from '../identity-sessions.ts';

/**
 * For changes to how the account logs in: MFA_PROOF_STALE unless the caller's session comes from a
 * login within `maxAgeSeconds`; and once the account has a second factor, MFA_FACTOR_PROOF_REQUIRED
 * unless that login used one (a password-only session made before the factor existed cannot add its
 * own factor or strip the owner's).
 */
export async function requireRecentLogin(
  sessions: Pick<IdentitySessions, 'loginProof'>,
  principal: { userId: string; sessionId: string },
  maxAgeSeconds: number,
  options: { secondFactor?: boolean } = {},
): Promise<void> {
  const proof = await sessions.loginProof(principal.sessionId, principal.userId);
  if (!(proof.ageMs <= maxAgeSeconds * 1000)) throw new VigilError('MFA_PROOF_STALE', { seconds: maxAgeSeconds });
  if (options.secondFactor && !proof.methods.includes('mfa')) throw new VigilError('MFA_FACTOR_PROOF_REQUIRED');
}
