import { Type } from '@sinclair/typebox';
import { DeviceInput, Email, PasswordInput, PhoneInput } from './accounts.ts';
import { documentedRules } from './common.ts';
import { AuthenticationResponse } from './passkeys.ts';

/** Sessions: login, refresh, listing and revoking sessions, devices, the caller's audit trail. */

export const SessionIdPattern = '^[A-Za-z0-9_-]{22}$';

export const LoginBody = documentedRules(
  Type.Object(
    {
      identifier: Type.Optional(Type.String({ minLength: 1, maxLength: 320, description: 'Username, email or phone' })),
      password: Type.Optional(PasswordInput),
      email: Type.Optional(Email),
      phone: Type.Optional(PhoneInput),
      code: Type.Optional(Type.String({ pattern: '^[0-9]{6}$', description: 'From POST /v1/codes with purpose login' })),
      ticket: Type.Optional(
        Type.String({
          minLength: 16,
          maxLength: 128,
          description: 'From POST /v1/codes/verify with purpose login (instead of code)',
        }),
      ),
      device: Type.Optional(DeviceInput),
    },
    {
      additionalProperties: false,
      description: 'Either {identifier, password}, or {email | phone, code}, or {ticket}; device optional in each case',
    },
  ),
  {
    anyOf: [
      { required: ['identifier', 'password'] },
      { required: ['email', 'code'] },
      { required: ['phone', 'code'] },
      { required: ['ticket'] },
    ],
  },
);

export const MfaChallengeReply = Type.Object(
  {
    mfa: Type.Object({
      ticket: Type.String({ description: 'Single use; send to POST /v1/sessions/mfa with the second factor' }),
      methods: Type.Array(Type.Union([Type.Literal('totp'), Type.Literal('recovery_code'), Type.Literal('passkey')]), {
        description: 'What the second step can be answered with (passkey: POST /v1/sessions/mfa/passkey-options first)',
      }),
      expiresIn: Type.Integer({ description: 'Seconds the ticket lives' }),
    }),
  },
  { description: 'The first factor passed; this account also needs its second' },
);

export const MfaBody = documentedRules(
  Type.Object(
    {
      ticket: Type.String({ minLength: 16, maxLength: 128, description: 'From the 202 answer of POST /v1/sessions' }),
      code: Type.Optional(Type.String({ pattern: '^[0-9]{6}$', description: 'From the authenticator app' })),
      recoveryCode: Type.Optional(
        Type.String({ minLength: 10, maxLength: 16, description: 'One of the recovery codes (single use)' }),
      ),
      passkey: Type.Optional(AuthenticationResponse),
    },
    { additionalProperties: false, description: 'The ticket and exactly one of code, recoveryCode or passkey' },
  ),
  { oneOf: [{ required: ['code'] }, { required: ['recoveryCode'] }, { required: ['passkey'] }] },
);

export const TokenPairSchema = Type.Object({
  tokenType: Type.Literal('Bearer'),
  accessToken: Type.String({ description: 'EdDSA JWT; send as Authorization: Bearer <token>' }),
  accessTokenExpiresAt: Type.Integer({ description: 'Epoch seconds' }),
  expiresIn: Type.Integer({ description: 'Seconds until the access token expires' }),
  refreshToken: Type.String({ description: 'Opaque; single use — each refresh returns a new one' }),
  refreshTokenExpiresAt: Type.Integer({ description: 'Epoch seconds: the session’s absolute end (idle expiry may come first)' }),
});

export const SessionView = Type.Object({
  id: Type.String(),
  current: Type.Boolean({ description: 'The session of the token making this request' }),
  kind: Type.String({ description: 'core, or the legacy dialect that opened it' }),
  createdAt: Type.String({ format: 'date-time' }),
  lastSeenAt: Type.String({ format: 'date-time', description: 'Login or last refresh' }),
  expiresAt: Type.String({ format: 'date-time', description: 'Absolute end' }),
  ip: Type.Optional(Type.String()),
  userAgent: Type.Optional(Type.String()),
  deviceId: Type.Optional(Type.String()),
  device: Type.Optional(
    Type.Object({
      id: Type.String(),
      platform: Type.Optional(Type.String()),
      brand: Type.Optional(Type.String()),
      model: Type.Optional(Type.String()),
      osVersion: Type.Optional(Type.String()),
    }),
  ),
});

export const LoginReply = Type.Composite([
  TokenPairSchema,
  Type.Object({
    sessionId: Type.String(),
    user: Type.Unknown({ description: 'The account, as GET /v1/accounts/me shows it' }),
  }),
]);

export const RefreshBody = Type.Object(
  { refreshToken: Type.String({ minLength: 1, maxLength: 256 }) },
  { additionalProperties: false },
);
export const RefreshReply = Type.Composite([TokenPairSchema, Type.Object({ sessionId: Type.String() })]);

export const SessionListReply = Type.Object({ sessions: Type.Array(SessionView) });

export const SessionIdParams = Type.Object({ id: Type.String({ pattern: SessionIdPattern }) });

export const RevokeAllQuery = Type.Object(
  {
    exceptCurrent: Type.Boolean({ default: false, description: 'Keep the session making this request' }),
  },
  { additionalProperties: false },
);
export const RevokedReply = Type.Object({ revoked: Type.Integer({ description: 'Sessions ended' }) });

export const DeviceView = Type.Object({
  id: Type.String(),
  platform: Type.Optional(Type.String()),
  brand: Type.Optional(Type.String()),
  model: Type.Optional(Type.String()),
  osVersion: Type.Optional(Type.String()),
  hasPushToken: Type.Boolean(),
  firstSeenAt: Type.String({ format: 'date-time' }),
  lastSeenAt: Type.String({ format: 'date-time' }),
  activeSessions: Type.Integer({ description: 'Live sessions logged in from this device' }),
});
export const DeviceListReply = Type.Object({ devices: Type.Array(DeviceView) });
export const DeviceIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
export const DeviceRemovedReply = Type.Object({ removed: Type.Literal(true), revokedSessions: Type.Integer() });

export const AuditQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
    before: Type.Optional(
      Type.String({ format: 'date-time', description: 'Continue with events older than this (the previous page’s `next`)' }),
    ),
  },
  { additionalProperties: false },
);
export const AuditEntry = Type.Object({
  at: Type.String({ format: 'date-time' }),
  event: Type.String(),
  outcome: Type.Union([Type.Literal('success'), Type.Literal('failure')]),
  sessionId: Type.Optional(Type.String()),
  ip: Type.Optional(Type.String()),
  deviceId: Type.Optional(Type.String()),
  userAgent: Type.Optional(Type.String()),
  detail: Type.Optional(Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()]))),
});
export const AuditReply = Type.Object({
  events: Type.Array(AuditEntry),
  next: Type.Optional(Type.String({ format: 'date-time', description: 'Pass as `before` for older events' })),
});
