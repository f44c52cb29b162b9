import { Type, type TSchema } from '@sinclair/typebox';
import { LegacyPassword } from './common.ts';

/**
 * Dialect B (a Spring server): every answer is `{data, error}`; failures are HTTP 400 with a
 * Korean string in `error` and `data: null`.
 */

/** `{ "data": <T>, "error": null }` */
export const BData = <T extends TSchema>(data: T) => Type.Object({ data, error: Type.Null() });
/** `{ "data": null, "error": "존재 하지 않는 아이디" }` */
export const BError = Type.Object({ data: Type.Null(), error: Type.String() });

const AuthId = Type.String({ minLength: 1, maxLength: 64, description: 'Login id (a username: letters required)' });
const BEmail = Type.String({ minLength: 3, maxLength: 254 });
export const BAuthKeyType = Type.Union([Type.Literal('SIGN_UP'), Type.Literal('FORGET_PASSWORD')]);

export const BSignUpBody = Type.Object({
  authId: AuthId,
  password: LegacyPassword,
  name: Type.String({ minLength: 1, maxLength: 100 }),
  email: BEmail,
});
export const BSignInBody = Type.Object({ authId: AuthId, password: LegacyPassword });
export const BWithdrawalBody = Type.Object({ authId: AuthId, password: LegacyPassword });
export const BAuthIdParams = Type.Object({ authId: Type.String({ minLength: 1, maxLength: 256 }) });
export const BEmailParams = Type.Object({ email: Type.String({ minLength: 1, maxLength: 256 }) });
export const BSendAuthKeyBody = Type.Object({ authId: Type.Optional(AuthId), email: BEmail, type: BAuthKeyType });
export const BCheckAuthCodeBody = Type.Object({
  authId: Type.Optional(AuthId),
  email: BEmail,
  authCode: Type.String({ minLength: 1, maxLength: 16 }),
  type: BAuthKeyType,
});
export const BResetPasswordBody = Type.Object({
  userId: Type.Integer({ minimum: 1, description: 'The numeric user id (data.id of sign-up and sign-in), not the authId' }),
  authCode: Type.String({ minLength: 1, maxLength: 16 }),
  newPassword: LegacyPassword,
});

export const BSignUpReply = BData(Type.Object({ id: Type.Integer({ minimum: 1 }), name: Type.String() }));
export const BSignInReply = BData(
  Type.Object({
    id: Type.Integer({ minimum: 1 }),
    name: Type.String(),
    authId: Type.String(),
    token: Type.String({ description: 'HS512 JWT {iat, sub: authId, exp, jti}' }),
  }),
);
export const BStatusReply = BData(Type.Object({ status: Type.Boolean() }));
export const BUsableReply = BData(Type.Object({ usable: Type.Boolean() }));
export const BStateReply = BData(Type.Object({ state: Type.Boolean() }));
export const BUserIdReply = BData(Type.Object({ userId: Type.Integer({ minimum: 1 }) }));
