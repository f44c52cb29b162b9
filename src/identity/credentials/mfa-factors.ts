import { dataCipher } from '../../crypto/data-cipher.ts';
import type { GatewayContext } from '../../server/context.ts';
import type { Route, Authenticator } from '../../server/http/route.ts';
import type { Principal } from '../../server/http/principal.ts';
import type { AccountService } from '../accounts/account-service.ts';
import type { IdentitySessions } from '../identity-sessions.ts';
import { AccountFactors } from './account-factors.ts';
import { PasskeyCeremonies } from './passkeys/passkey-ceremonies.ts';
import { PasskeyChallenges } from './passkeys/passkey-challenges.ts';
import { passkeyRoutes } from './passkeys/passkey-routes.ts';
import { PasskeyStore } from './passkeys/passkey-store.ts';
import { relyingPartyOf } from '../../config/relying-party.ts';
import { passkeyTestPageRoutes } from './passkeys/test-page-routes.ts';
import { TotpFactors } from './totp/totp-factors.ts';
import { totpRoutes } from './totp/totp-routes.ts';

/** Enough for every device a person owns, few enough that listing them stays cheap. */
const MAX_PASSKEYS_PER_ACCOUNT = 20;

/** An account's second factors: authenticator apps and passkeys, and both together. */
export interface MfaFactors {
  totp: TotpFactors;
  passkeys: PasskeyCeremonies;
  /** Every second factor an account has (logins, the step-up policy). */
  factors: AccountFactors;
  /** Setup, confirmation, listing and removal (/v1/mfa, /v1/passkeys), and the test-mode passkey page. */
  routes: Route[];
  start(): Promise<void>;
}

/**
 * Builds the second factors. Their routes take the enrolment authenticator (a session that must
 * still enrol a factor may), and changes need a recent login through the session contract.
 */
export function createMfaFactors(
  ctx: GatewayContext,
  deps: { accounts: AccountService; sessions: IdentitySessions; enrolmentAuth: Authenticator<Principal> },
): MfaFactors {
  const { config, audit } = ctx;
  // Authenticator-app secrets are sealed with VIGIL_MFA_KEYS (the same AES-256-GCM sealing as biometric data).
  const mfaCipher = dataCipher({ VIGIL_BIOMETRIC_KEYS: config.VIGIL_MFA_KEYS });
  const totp = new TotpFactors(ctx.mongo.db, ctx.redis, config.VIGIL_TOTP_ISSUER, mfaCipher);
  const store = new PasskeyStore(ctx.mongo.db, ctx.redis);
  const { rp } = relyingPartyOf(config);
  const passkeys = new PasskeyCeremonies({
    store,
    challenges: new PasskeyChallenges(ctx.redis, config.VIGIL_WEBAUTHN_CHALLENGE_TTL_SECONDS),
    rp,
    audit,
    maxPerAccount: MAX_PASSKEYS_PER_ACCOUNT,
  });
  const factors = new AccountFactors(totp, store);
  // Withdrawal erases the account's authenticator secret, recovery codes and passkeys with the rest of it.
  deps.accounts.onWithdrawn(async ({ account }) => {
    await totp.remove(account.id);
    await store.removeAll(account.id);
  });
  const routes = [
    ...totpRoutes({
      factors: totp,
      accountFactors: factors,
      accounts: deps.accounts,
      sessions: deps.sessions,
      audit,
      auth: deps.enrolmentAuth,
      proofMaxAgeSeconds: config.VIGIL_MFA_PROOF_MAX_AGE_SECONDS,
      available: mfaCipher !== undefined || config.NODE_ENV !== 'production',
    }),
    ...passkeyRoutes({
      ceremonies: passkeys,
      store,
      factors,
      accounts: deps.accounts,
      sessions: deps.sessions,
      audit,
      auth: deps.enrolmentAuth,
      proofMaxAgeSeconds: config.VIGIL_MFA_PROOF_MAX_AGE_SECONDS,
    }),
    ...(config.VIGIL_WEBAUTHN_TEST_PAGE && config.NODE_ENV !== 'production' ? passkeyTestPageRoutes() : []),
  ];
  return { totp, passkeys, factors, routes, start: () => store.ensureIndexes() };
}
