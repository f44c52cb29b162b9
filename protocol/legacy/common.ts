import { Type } from '@sinclair/typebox';

/**
 * Pieces every legacy dialect's schemas share. The dialects' own envelopes live in their files;
 * legacy request bodies accept unknown members (their clients send extras the old servers ignored).
 */

/** A password as a legacy client sends it; length rules are the policy's (VIGIL_LEGACY_PASSWORD_MIN_LENGTH, bcrypt's 72 bytes). */
export const LegacyPassword = Type.String({ minLength: 1, maxLength: 1024 });

/** A phone number as Korean clients type it: national (01012345678) or E.164 (+821012345678), separators allowed. */
export const LegacyPhone = Type.String({ pattern: '^\\+?[0-9 ().-]{6,24}$', description: 'National or E.164 phone number' });

/** DRF-style field errors: `{"username": ["해당 사용자 이름은 이미 존재합니다."]}`. */
export const DrfFieldErrors = Type.Record(Type.String(), Type.Array(Type.String()), {
  description: 'Field name → messages, as Django REST framework answers a 400',
});

/** DRF-style exception body: `{"detail": "..."}`, with a `code` where the dialect documents one. */
export const DrfDetail = Type.Object({ detail: Type.String(), code: Type.Optional(Type.String()) });
