import { Type, type Static } from '@sinclair/typebox';
import { DrfDetail, DrfFieldErrors, LegacyPassword } from './common.ts';

/**
 * Dialect A (realtime_authentication, a Django REST framework server): members and the two
 * biometric upload endpoints. Bodies may be JSON, urlencoded or multipart (DRF parses all three).
 */

export const AGender = Type.Union([Type.Literal('male'), Type.Literal('female'), Type.Literal('other')]);

export const ACreateBody = Type.Object({
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  username: Type.String({ minLength: 1, maxLength: 150 }),
  password: LegacyPassword,
  gender: Type.Optional(AGender),
  age: Type.Optional(Type.Integer({ minimum: 0, maximum: 150 })),
});

export const ALoginBody = Type.Object({ username: Type.String({ minLength: 1, maxLength: 320 }), password: LegacyPassword });

const profile = {
  username: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  age: Type.Union([Type.Integer(), Type.Null()]),
  gender: Type.Union([Type.String(), Type.Null()]),
};

export const AUser = Type.Object(profile);
export type AUser = Static<typeof AUser>;
export const ALoginUser = Type.Object({ pk: Type.Integer({ minimum: 1, description: 'Stable numeric user id' }), ...profile });
export type ALoginUser = Static<typeof ALoginUser>;

export const ACreateReply = Type.Object({ user: AUser });
export const ALoginReply = Type.Object({
  token: Type.String({ pattern: '^[0-9a-f]{40}$', description: 'Opaque; send as Authorization: Token <token>' }),
  user: ALoginUser,
});
export const ADetailReply = Type.Object({ detail: Type.String() });

/** make_model / check_user: multipart `token` field (the file is `data`, read from ctx.files). */
export const AUploadBody = Type.Object({ token: Type.String({ minLength: 1, maxLength: 128 }) });

/**
 * make_model: A's fields, and Vigil's optional `password` (the account's current one), which a
 * re-enrolment needs unless the session read genuine under the current model lately.
 */
export const AMakeModelBody = Type.Object({
  token: Type.String({ minLength: 1, maxLength: 128 }),
  password: Type.Optional(LegacyPassword),
});

export const ACheckReply = Type.Object({
  '전체 Test': Type.Integer({ minimum: 0, description: 'Windows scored' }),
  '맞은 Test': Type.Integer({ minimum: 0, description: 'Windows accepted as the owner' }),
  '맞은 비율': Type.Number({ minimum: 0, maximum: 1 }),
  detail: Type.Union([Type.Literal('인증 성공'), Type.Literal('인증 실패')]),
});

/** Every error answer of dialect A: DRF field errors (400) or `{detail}`. */
export const AErrorReply = Type.Union([DrfFieldErrors, DrfDetail]);
