import { createHash, randomBytes } from 'node:crypto';

/** Crockford-style alphabet without look-alikes (no I, L, O, U). */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const RECOVERY_CODE_COUNT = 10;

/** Ten single-use codes of 50 random bits each, shown once as XXXXX-XXXXX. */
export function newRecoveryCodes(count = RECOVERY_CODE_COUNT): string[] {
  return Array.from({ length: count }, () => {
    const bytes = randomBytes(10);
    const chars = Array.from(bytes, (b) => ALPHABET[b & 31]).join('');
    return `${chars.slice(0, 5)}-${chars.slice(5)}`;
  });
}

/** What is stored: a SHA-256 of the normalised code. 50 random bits need no slow hash. */
export function recoveryCodeDigest(code: string): string {
  const normalised = code.toUpperCase().replace(/[^0-9A-Z]/g, '');
  return createHash('sha256').update(`vigil-recovery:${normalised}`).digest('base64url');
}
