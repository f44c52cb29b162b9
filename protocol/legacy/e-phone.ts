import { Type, type TSchema } from '@sinclair/typebox';
import { LegacyPassword, LegacyPhone } from './common.ts';

/**
 * Dialect E (rippler): every answer is `{success, message, code, data: {item, item_length, total}}`,
 * `item` an array (empty on failure). Code 1000 is success; docs/legacy.md lists the failure codes.
 */

export const EEnvelope = <T extends TSchema>(item: T) =>
  Type.Object({
    success: Type.Boolean(),
    message: Type.String(),
    code: Type.Integer(),
    data: Type.Object({ item: Type.Array(item), item_length: Type.Integer({ minimum: 0 }), total: Type.Integer({ minimum: 0 }) }),
  });
export const EFailure = EEnvelope(Type.Never());

export const ENumBody = Type.Object({ num: LegacyPhone });
export const ESignUpBody = Type.Object({
  num: LegacyPhone,
  password: LegacyPassword,
  device_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Android SSAID / iOS UDID' })),
  device_token: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
  device_platform: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
  device_brand: Type.Optional(Type.String({ maxLength: 128 })),
  device_model: Type.Optional(Type.String({ maxLength: 128 })),
  device_version: Type.Optional(Type.String({ maxLength: 64 })),
});
export const ESignInBody = Type.Object({ num: LegacyPhone, password: LegacyPassword });
export const ESmsRequestBody = Type.Object({ receiver: LegacyPhone });
export const ESmsCheckBody = Type.Object({
  num: LegacyPhone,
  auth_num: Type.Union([Type.Integer({ minimum: 0, maximum: 999_999 }), Type.String({ pattern: '^[0-9]{1,6}$' })]),
});
export const EPasswordChangeBody = Type.Object(
  { id: Type.Integer({ minimum: 1, description: 'The user id num_find answered' }), password: LegacyPassword },
  { description: 'Allowed only within a few minutes of this account’s phone passing sms_auth_res' },
);
/** The document serves both at /num_find; the body tells them apart (`id` = password change). */
export const ENumFindOrPasswordBody = Type.Union([EPasswordChangeBody, ENumBody]);

export const EBooleanReply = EEnvelope(Type.Boolean());
export const ENumberReply = EEnvelope(Type.Integer({ minimum: 1 }));
export const ETokenReply = EEnvelope(Type.String());
export const ENumFindReply = EEnvelope(Type.Union([Type.Integer({ minimum: 1 }), Type.Literal(false)]));
