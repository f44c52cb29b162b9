import { FormatRegistry, Type, type Static, type TSchema } from '@sinclair/typebox';
import { ErrorBodySchema, documentedRules } from './common.ts';

/**
 * Accounts: sign-up, availability, the caller's own account, withdrawal, operator approval.
 * Operators declare extra profile fields in config (VIGIL_PROFILE_FIELDS); the sign-up and
 * profile schemas are built from that list, so those fields are validated and documented too.
 */

/**
 * The error body for per-status response declarations: ErrorBodySchema's shape without its `$id`,
 * which may appear only once in the OpenAPI document.
 */
export const ErrorReply = Type.Object(ErrorBodySchema.properties, { description: 'Catalogued error (protocol/errors.ts)' });

/** Letters of any script, digits, . _ -; 2–32 long; must contain a letter (never mistaken for a phone). */
export const USERNAME_PATTERN = /^(?=.*\p{L})[\p{L}\p{N}][\p{L}\p{N}._-]{1,31}$/u;
if (!FormatRegistry.Has('username')) FormatRegistry.Set('username', (v) => USERNAME_PATTERN.test(v.normalize('NFKC')));

export const AccountStatus = Type.Union(
  [
    Type.Literal('active'),
    Type.Literal('unverified'),
    Type.Literal('pending'),
    Type.Literal('rejected'),
    Type.Literal('withdrawn'),
  ],
  {
    description:
      'active may log in; unverified must confirm an email/phone; pending awaits approval; rejected and withdrawn are final',
  },
);
export type AccountStatus = Static<typeof AccountStatus>;

export const Locale = Type.Union([Type.Literal('ko'), Type.Literal('en')], { description: 'Language of mail and SMS' });
export type Locale = Static<typeof Locale>;

export const Username = Type.String({
  format: 'username',
  maxLength: 32,
  description: 'Letters, digits, . _ -; 2–32; at least one letter',
});
export const Email = Type.String({ format: 'email', maxLength: 254 });
export const PhoneInput = Type.String({
  pattern: '^\\+?[0-9 ().-]{6,24}$',
  description: 'E.164 (+821012345678) or a national number of the configured region (01012345678)',
});
/** Passwords are length-checked by the policy (bytes, not characters), which names the field itself. */
export const PasswordInput = Type.String({ maxLength: 1024 });

/** A password being set: the policy (credentials/password-policy.ts) refuses fewer than 8 characters. */
export const NewPasswordInput = documentedRules(Type.String({ maxLength: 1024 }), { minLength: 8 });

export const DeviceInput = Type.Object(
  {
    id: Type.String({
      minLength: 1,
      maxLength: 128,
      description: 'Stable device identifier (Android SSAID, iOS identifierForVendor…)',
    }),
    pushToken: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    platform: Type.Optional(Type.String({ minLength: 1, maxLength: 32, description: 'ios, android, web, wearos…' })),
    brand: Type.Optional(Type.String({ maxLength: 128 })),
    model: Type.Optional(Type.String({ maxLength: 128 })),
    osVersion: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
export type DeviceInput = Static<typeof DeviceInput>;

// ── operator-declared profile fields ──────────────────────────────────────
export type ProfileFieldType = 'string' | 'number' | 'integer' | 'boolean' | 'date' | 'string[]' | 'json';
export const PROFILE_FIELD_TYPES: readonly ProfileFieldType[] = [
  'string',
  'number',
  'integer',
  'boolean',
  'date',
  'string[]',
  'json',
];

export interface ProfileFieldSpec {
  name: string;
  type: ProfileFieldType;
  required?: boolean;
  /** For strings and string lists: longest value (default 1000). */
  maxLength?: number;
  description?: string;
}

/** Built-in profile fields; operator fields may not reuse these names. */
export const BASE_PROFILE_FIELDS = ['name', 'gender', 'birthDate', 'age'] as const;

function fieldSchema(spec: ProfileFieldSpec): TSchema {
  const maxLength = spec.maxLength ?? 1000;
  const description = spec.description;
  switch (spec.type) {
    case 'string':
      return Type.String({ maxLength, description });
    case 'number':
      return Type.Number({ description });
    case 'integer':
      return Type.Integer({ description });
    case 'boolean':
      return Type.Boolean({ description });
    case 'date':
      return Type.String({ format: 'date', description });
    case 'string[]':
      return Type.Array(Type.String({ maxLength }), { maxItems: 100, description });
    case 'json':
      return Type.Unknown({ description: description ?? 'Any JSON value (at most 8 KiB serialised)' });
  }
}

const baseProfile = {
  name: Type.String({ minLength: 1, maxLength: 100 }),
  gender: Type.Union([Type.Literal('male'), Type.Literal('female'), Type.Literal('other')]),
  birthDate: Type.String({ format: 'date' }),
  age: Type.Integer({ minimum: 0, maximum: 150, description: 'When no birth date is given' }),
};

/** Profile as given at sign-up: built-ins optional, operator fields required when declared so. */
export function profileInputSchema(fields: readonly ProfileFieldSpec[]) {
  const custom: Record<string, TSchema> = {};
  for (const f of fields) custom[f.name] = f.required ? fieldSchema(f) : Type.Optional(fieldSchema(f));
  return Type.Object(
    {
      name: Type.Optional(baseProfile.name),
      gender: Type.Optional(baseProfile.gender),
      birthDate: Type.Optional(baseProfile.birthDate),
      age: Type.Optional(baseProfile.age),
      ...custom,
    },
    { additionalProperties: false },
  );
}

/** Profile changes: every field optional; null removes a field (unless the operator requires it). */
export function profilePatchSchema(fields: readonly ProfileFieldSpec[]) {
  const nullable = (s: TSchema) => Type.Optional(Type.Union([s, Type.Null()]));
  const custom: Record<string, TSchema> = {};
  for (const f of fields) custom[f.name] = f.required ? Type.Optional(fieldSchema(f)) : nullable(fieldSchema(f));
  return Type.Object(
    {
      name: nullable(baseProfile.name),
      gender: nullable(baseProfile.gender),
      birthDate: nullable(baseProfile.birthDate),
      age: nullable(baseProfile.age),
      ...custom,
    },
    { additionalProperties: false },
  );
}

export function signUpBodySchema(fields: readonly ProfileFieldSpec[]) {
  const hasRequired = fields.some((f) => f.required);
  const profile = profileInputSchema(fields);
  const body = Type.Object(
    {
      username: Type.Optional(Username),
      email: Type.Optional(Email),
      phone: Type.Optional(PhoneInput),
      password: Type.Optional(NewPasswordInput),
      ticket: Type.Optional(
        Type.String({
          minLength: 16,
          maxLength: 128,
          description: 'From POST /v1/codes/verify (purpose signup): proves the email/phone',
        }),
      ),
      locale: Type.Optional(Locale),
      profile: hasRequired ? profile : Type.Optional(profile),
      device: Type.Optional(DeviceInput),
    },
    {
      additionalProperties: false,
      description: 'At least one of username, email, phone; password optional for code-only (phone/email) accounts',
    },
  );
  return documentedRules(body, { anyOf: [{ required: ['username'] }, { required: ['email'] }, { required: ['phone'] }] });
}

export function patchMeBodySchema(fields: readonly ProfileFieldSpec[]) {
  return Type.Object(
    { username: Type.Optional(Username), locale: Type.Optional(Locale), profile: Type.Optional(profilePatchSchema(fields)) },
    { additionalProperties: false },
  );
}

export function accountViewSchema(fields: readonly ProfileFieldSpec[]) {
  const custom: Record<string, TSchema> = {};
  for (const f of fields) custom[f.name] = Type.Optional(fieldSchema(f));
  return Type.Object(
    {
      id: Type.String(),
      number: Type.Integer({ description: 'Sequential account number (for clients that need a numeric id)' }),
      username: Type.Optional(Type.String()),
      email: Type.Optional(Type.String()),
      phone: Type.Optional(Type.String()),
      emailVerified: Type.Boolean(),
      phoneVerified: Type.Boolean(),
      hasPassword: Type.Boolean(),
      status: AccountStatus,
      locale: Locale,
      profile: Type.Object({
        name: Type.Optional(Type.String()),
        gender: Type.Optional(Type.String()),
        birthDate: Type.Optional(Type.String({ format: 'date' })),
        age: Type.Optional(Type.Integer({ description: 'From the birth date when known' })),
        ...custom,
      }),
      createdAt: Type.String({ format: 'date-time' }),
    },
    { description: 'An account as its owner (or an operator) sees it' },
  );
}

export const AvailabilityQuery = Type.Object(
  { username: Type.Optional(Username), email: Type.Optional(Email), phone: Type.Optional(PhoneInput) },
  { additionalProperties: false },
);

const AvailabilityEntry = Type.Object({
  value: Type.String({ description: 'The normalised form that was checked' }),
  available: Type.Boolean(),
});
export const AvailabilityReply = Type.Object({
  username: Type.Optional(AvailabilityEntry),
  email: Type.Optional(AvailabilityEntry),
  phone: Type.Optional(AvailabilityEntry),
});

export const WithdrawBody = Type.Object(
  {
    password: Type.Optional(PasswordInput),
    ticket: Type.Optional(
      Type.String({ minLength: 16, maxLength: 128, description: 'From POST /v1/codes/verify with purpose withdraw' }),
    ),
  },
  { additionalProperties: false, description: 'The current password, or a ticket from a fresh code' },
);
export const WithdrawReply = Type.Object({ status: Type.Literal('withdrawn'), revokedSessions: Type.Integer() });

export const VerificationLinkBody = Type.Object({ email: Email, locale: Type.Optional(Locale) }, { additionalProperties: false });
export const AcceptedReply = Type.Object({ status: Type.Literal('accepted') });
export const VerifyEmailQuery = Type.Object({ token: Type.String({ minLength: 16, maxLength: 128 }) });
export const VerifyEmailReply = Type.Object({ status: Type.Literal('verified'), accountStatus: AccountStatus });

export const AccountIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
export const AdminListQuery = Type.Object(
  {
    status: Type.Optional(AccountStatus),
    limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
    after: Type.Optional(
      Type.Integer({ minimum: 0, description: 'Account number to continue after (the previous page’s `next`)' }),
    ),
  },
  { additionalProperties: false },
);
export const RejectBody = Type.Object(
  { reason: Type.Optional(Type.String({ maxLength: 500 })) },
  { additionalProperties: false },
);
