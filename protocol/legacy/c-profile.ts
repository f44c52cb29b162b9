import { Type, type Static } from '@sinclair/typebox';
import { DrfDetail, DrfFieldErrors, LegacyPhone } from './common.ts';

/**
 * Dialect C (a Django REST framework + simplejwt server): registration with a full profile,
 * SMS login in two steps, refresh, logout; presigned uploads for the images it references.
 */

/** Operator catalogue ids ("fQW6UJWc5eNzvTNxSHK000") and generated user uuids: 22 letters and digits. */
export const CUuid = Type.String({ pattern: '^[A-Za-z0-9]{22}$' });
/** A reference to an uploaded file, as sign-s3 handed it out ("images/users/avatars/avatar_….jpeg"). */
export const CFileRef = Type.String({ minLength: 1, maxLength: 256 });

export const CRegistrationBody = Type.Object({
  avatar: Type.Optional(Type.Union([CFileRef, Type.Null()])),
  birth: Type.String({ format: 'date' }),
  carrier: Type.Optional(Type.String({ maxLength: 64 })),
  foreigner: Type.Optional(Type.Boolean()),
  gender: Type.Union([Type.Literal('male'), Type.Literal('female'), Type.Literal('other')]),
  interests: Type.Optional(Type.Array(CUuid, { maxItems: 50 })),
  mobile: LegacyPhone,
  name: Type.String({ minLength: 1, maxLength: 100 }),
  profession: Type.Optional(Type.Union([CUuid, Type.Null()])),
  profile: Type.Optional(Type.Union([CFileRef, Type.Null()])),
  unique_in_site: Type.Optional(Type.String({ maxLength: 256 })),
  unique_key: Type.Optional(Type.String({ maxLength: 256 })),
  username: Type.String({ minLength: 1, maxLength: 32 }),
  verification_files: Type.Optional(
    Type.Array(Type.Object({ display_order: Type.Integer({ minimum: 0 }), original: CFileRef }), { maxItems: 20 }),
  ),
});
export type CRegistrationBody = Static<typeof CRegistrationBody>;

export const CInterest = Type.Object({
  emoji: Type.String(),
  name: Type.String(),
  uuid: Type.String(),
  image: Type.Union([Type.String(), Type.Null()]),
});
export const CProfession = Type.Object({ emoji: Type.String(), name: Type.String(), uuid: Type.String() });
export const CUser = Type.Object({
  age: Type.Union([Type.Integer(), Type.Null()]),
  birth: Type.Union([Type.String(), Type.Null()]),
  gender: Type.Union([Type.String(), Type.Null()]),
  interests: Type.Array(CInterest),
  profession: Type.Union([CProfession, Type.Null()]),
  profile: Type.Union([Type.String(), Type.Null()]),
  status: Type.Union([Type.Literal('pending'), Type.Literal('approved'), Type.Literal('rejected')]),
  username: Type.Union([Type.String(), Type.Null()]),
  uuid: Type.String(),
});
export type CUser = Static<typeof CUser>;

export const CSessionReply = Type.Object({
  access: Type.String({ description: 'Core access token (EdDSA JWT)' }),
  refresh: Type.String({ description: 'Core refresh token: single use, rotated by /api/token/refresh/' }),
  user: CUser,
});
export const CMobileBody = Type.Object({ mobile: LegacyPhone });
export const CTokenBody = Type.Object({ mobile: LegacyPhone, token: Type.String({ minLength: 1, maxLength: 16 }) });
export const CRefreshBody = Type.Object({ refresh: Type.String({ minLength: 1, maxLength: 512 }) });
export const CPairReply = Type.Object({ access: Type.String(), refresh: Type.String() });
export const CLogoutBody = Type.Object({ refresh: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })) });
export const CDetailReply = Type.Object({ detail: Type.String() });
export const CErrorReply = Type.Union([DrfFieldErrors, DrfDetail]);

/** What an upload is for; it decides the folder ("images/users/avatars/…"). */
export const CUploadKind = Type.Union([Type.Literal('avatar'), Type.Literal('profile'), Type.Literal('verification')]);
export type CUploadKind = Static<typeof CUploadKind>;

export const CSignBody = Type.Object({
  file_name: Type.String({
    minLength: 1,
    maxLength: 256,
    description:
      "The client's file name (its extension is kept), or a full reference of the documented form images/users/<kind>s/<kind>_<16–40 letters/digits>.<ext>",
  }),
  file_type: Type.String({ minLength: 3, maxLength: 64, description: 'MIME type the file will be PUT with' }),
  kind: Type.Optional(CUploadKind),
});
export const CSignReply = Type.Object({
  url: Type.String({ description: 'PUT the file here, with Content-Type: file_type' }),
  method: Type.Literal('PUT'),
  headers: Type.Record(Type.String(), Type.String()),
  path: Type.String({ description: 'The reference to send in avatar / profile / verification_files[].original' }),
  expires_in: Type.Integer(),
  max_bytes: Type.Integer(),
});
export const CUploadQuery = Type.Object({
  key: Type.String({ minLength: 1, maxLength: 256 }),
  type: Type.String({ minLength: 3, maxLength: 64 }),
  max: Type.Integer({ minimum: 1 }),
  exp: Type.Integer({ minimum: 0 }),
  sig: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' }),
});
export const CUploadReply = Type.Object({ path: Type.String() });

// ── operator catalogue (admin API, core error shape) ─────────────────────
export const CCatalogueKind = Type.Union([Type.Literal('interests'), Type.Literal('professions')]);
export const CCatalogueParams = Type.Object({ kind: CCatalogueKind, uuid: CUuid });
export const CCatalogueEntryBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    emoji: Type.String({ minLength: 1, maxLength: 32 }),
    image: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 512 }), Type.Null()])),
  },
  { additionalProperties: false, description: 'image: a media reference (images/interests/…) or an absolute URL' },
);
export const CCatalogueEntry = Type.Object({
  uuid: Type.String(),
  name: Type.String(),
  emoji: Type.String(),
  image: Type.Union([Type.String(), Type.Null()]),
});
export const CCatalogueReply = Type.Object({ interests: Type.Array(CCatalogueEntry), professions: Type.Array(CCatalogueEntry) });
