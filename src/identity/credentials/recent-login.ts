import { VigilError } from '../../../protocol/errors.ts';
import type { IdentitySessions } from '../identity-sessions.ts';
import type { SecondFactors } from './account-factors.ts';

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

/**
 * The check before a second factor is added or removed: a recent login, proven by a factor once
 * the account has one (and always when removing, which needs the factor being removed or another).
 */
export function factorChangeGuard(deps: {
  sessions: Pick<IdentitySessions, 'loginProof'>;
  factors: Pick<SecondFactors, 'methods'>;
  proofMaxAgeSeconds: number;
}): (principal: { userId: string; sessionId: string }, removing?: boolean) => Promise<void> {
  return async (principal, removing = false) =>
    requireRecentLogin(deps.sessions, principal, deps.proofMaxAgeSeconds, {
      secondFactor: removing || (await deps.factors.methods(principal.userId)).length > 0,
    });
}
