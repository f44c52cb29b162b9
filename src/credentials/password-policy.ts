import { VigilError } from '../../protocol/errors.ts';

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
  const fail = (code: 'PASSWORD_TOO_SHORT' | 'PASSWORD_TOO_LONG' | 'PASSWORD_MATCHES_IDENTIFIER', params: Record<string, string | number>) => {
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
    ['phone', options.phone],
    ['phone', options.phone?.replace(/^\+\d{1,3}/, '0')],
  ];
  for (const [identifier, value] of identifiers) {
    if (value && value.length >= 3 && folded === value.normalize('NFKC').trim().toLowerCase()) {
      throw fail('PASSWORD_MATCHES_IDENTIFIER', { identifier });
    }
  }
}
