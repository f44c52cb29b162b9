import type { PasskeyStore } from './passkeys/passkey-store.ts';
import type { TotpFactors } from './totp/totp-factors.ts';

/** How a second step of a login can be answered. */
export type SecondFactorMethod = 'totp' | 'recovery_code' | 'passkey';

/** What logins need from the second-factor stores (authenticator apps and passkeys). */
export interface SecondFactors {
  /** What the account can answer a second step with; empty when it has no second factor. */
  methods(userId: string): Promise<SecondFactorMethod[]>;
  verify(userId: string, code: string): Promise<boolean>;
  useRecoveryCode(userId: string, code: string): Promise<boolean>;
}

/** An account's second factors, whichever kinds it has: authenticator app (with its recovery codes) and passkeys. */
export class AccountFactors implements SecondFactors {
  constructor(
    private readonly totp: TotpFactors,
    private readonly passkeys: PasskeyStore,
  ) {}

  async methods(userId: string): Promise<SecondFactorMethod[]> {
    const [totp, passkeys] = await Promise.all([this.totp.enabled(userId), this.passkeys.count(userId)]);
    const methods: SecondFactorMethod[] = totp ? ['totp', 'recovery_code'] : [];
    if (passkeys > 0) methods.push('passkey');
    return methods;
  }

  passkeyCount(userId: string): Promise<number> {
    return this.passkeys.count(userId);
  }

  verify(userId: string, code: string): Promise<boolean> {
    return this.totp.verify(userId, code);
  }

  useRecoveryCode(userId: string, code: string): Promise<boolean> {
    return this.totp.useRecoveryCode(userId, code);
  }
}
