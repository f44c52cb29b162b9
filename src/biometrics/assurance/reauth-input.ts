import { fieldError } from '../../server/http/field-errors.ts';
import type { Reauthentication } from './model-change-proof.ts';

/** The HTTP header that carries a re-authentication with a model change (upload bodies are files). */
export const REAUTH_HEADER = 'vigil-reauth';
const HEADER_NAME = 'Vigil-Reauth';
/** Longest password accepted here, as the login body's. */
const MAX_PASSWORD_CHARS = 1024;
const TOTP = /^[0-9]{6}$/;

/**
 * `Vigil-Reauth: password <base64 of the UTF-8 password>` (as Basic credentials: a header carries
 * no raw UTF-8) or `Vigil-Reauth: totp <6 digits>`; absent, none. Anything else is
 * VALIDATION_FAILED naming the header.
 */
export function reauthFromHeader(value: string | undefined): Reauthentication | undefined {
  if (value === undefined) return undefined;
  const match = /^\s*(\S+)\s+(\S+)\s*$/.exec(value);
  const scheme = match?.[1]?.toLowerCase();
  const credential = match?.[2] ?? '';
  if (scheme === 'totp') {
    if (!TOTP.test(credential)) throw fieldError(HEADER_NAME, 'totp takes the 6 digits of the authenticator app');
    return { totp: credential, field: HEADER_NAME };
  }
  if (scheme === 'password') {
    const password = /^[A-Za-z0-9+/_-]+={0,2}$/.test(credential) ? Buffer.from(credential, 'base64').toString('utf8') : '';
    if (password.length === 0 || password.length > MAX_PASSWORD_CHARS) {
      throw fieldError(HEADER_NAME, `password takes the base64 of the UTF-8 password (1 to ${MAX_PASSWORD_CHARS} characters)`);
    }
    return { password, field: HEADER_NAME };
  }
  throw fieldError(HEADER_NAME, 'give "password <base64>" or "totp <code>"');
}

/** The `reauth` of a socket message (schema-checked): exactly one of password or code. */
export function reauthFromMessage(
  reauth: { password?: string | undefined; code?: string | undefined } | undefined,
): Reauthentication | undefined {
  if (!reauth) return undefined;
  if ((reauth.password === undefined) === (reauth.code === undefined)) {
    throw fieldError('/reauth', 'give exactly one of password or code');
  }
  if (reauth.code !== undefined) return { totp: reauth.code, field: '/reauth/code' };
  return { password: reauth.password!, field: '/reauth/password' };
}
