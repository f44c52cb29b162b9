import { Type } from '@sinclair/typebox';
import { LegacyPassword } from './common.ts';

/**
 * Dialect D (a hand-written Django server): email sign-up activated by a 1-minute link, JWT
 * login, and validate/refresh with the raw token in `Authorization`. Every answer is `{message}`
 * or the token pair.
 */

export const DSignUpBody = Type.Object({
  email: Type.String({ minLength: 3, maxLength: 254 }),
  password1: LegacyPassword,
  password2: LegacyPassword,
});
export const DVerifyQuery = Type.Object({
  token: Type.String({ minLength: 1, maxLength: 256 }),
  uid64: Type.String({
    minLength: 1,
    maxLength: 64,
    description: 'base64url of the numeric user id (Django urlsafe_base64_encode)',
  }),
});
export const DLoginBody = Type.Object({ email: Type.String({ minLength: 3, maxLength: 254 }), password: LegacyPassword });
/** validate and refresh read only the Authorization header; any body is ignored. */
export const DEmptyBody = Type.Object({});
export const DMessage = Type.Object({ message: Type.String() });
export const DTokenPair = Type.Object({
  access_token: Type.String({ description: 'Core access token (EdDSA JWT)' }),
  refresh_token: Type.String({ description: 'Opaque; not rotated (D refreshes answer only an access token)' }),
});
export const DAccessReply = Type.Object({ access_token: Type.String() });
