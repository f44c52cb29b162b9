import { VigilError } from '../../../protocol/errors.ts';

/** bcrypt reads at most 72 bytes; anything beyond would be silently ignored, so it is refused. */
export const BCRYPT_MAX_BYTES = 72;
export const DEFAULT_MIN_LENGTH = 8;

export interface PasswordPolicyOptions {
  /** Name of the request field, so the error names it ("password", "newPassword"). */
  field?: string;
  /** Minimum length in characters (code points); default 8. Legacy dialects may lower it. */
  minLength?: number;
  /** The account's own identifiers, which must not be the password. */
  username?: string;
  email?: string;
  phone?: string;
}

/**
 * Checks a new password before it is hashed. Throws a catalogued error whose `details` name the
 * field, so clients can mark it. Cheap by design: it runs before any bcrypt work.
 */
export function checkPasswordPolicy(password: string, options: PasswordPolicyOptions = {}): void {
  const field = options.field ?? 'password';
  const min = options.minLength ?? DEFAULT_MIN_LENGTH;
  const bytes = Buffer.byteLength(password, 'utf8');
  const fail = (
    code: 'PASSWORD_TOO_SHORT' | 'PASSWORD_TOO_LONG' | 'PASSWORD_MATCHES_IDENTIFIER',
    params: Record<string, string | number>,
  ) => {
    const error = new VigilError(code, { field, ...params });
    return new VigilError(code, { field, ...params }, { details: [{ field, message: error.message }] });
  };
  if ([...password].length < min) throw fail('PASSWORD_TOO_SHORT', { min });
  if (bytes > BCRYPT_MAX_BYTES) throw fail('PASSWORD_TOO_LONG', { bytes, limit: BCRYPT_MAX_BYTES });
  const folded = password.normalize('NFKC').trim().toLowerCase();
  const identifiers: Array<[string, string | undefined]> = [
    ['username', options.username],
    ['email', options.email],
    ['email', options.email?.split('@')[0]],
  ];
  for (const [identifier, value] of identifiers) {
    if (value && value.length >= 3 && folded === value.normalize('NFKC').trim().toLowerCase()) {
      throw fail('PASSWORD_MATCHES_IDENTIFIER', { identifier });
    }
  }
  if (options.phone && isSamePhone(password, options.phone)) throw fail('PASSWORD_MATCHES_IDENTIFIER', { identifier: 'phone' });
}

/** "01012345678", "010-1234-5678" and "+821012345678" are all the phone +821012345678. */
function isSamePhone(password: string, e164: string): boolean {
  const digits = password.replace(/[\s().+-]/g, '');
  if (!/^\d{7,}$/.test(digits)) return false;
  const phone = e164.replace(/^\+/, '');
  return digits === phone || (digits.startsWith('0') && phone.endsWith(digits.slice(1)) && phone.length - digits.length <= 3);
}
