import { Type, type Static } from '@sinclair/typebox';

/** Access tokens: JWKS, introspection, key rotation. */

export const JwkSchema = Type.Object({
  kty: Type.Literal('OKP'),
  crv: Type.Literal('Ed25519'),
  x: Type.String({ description: 'Public key, base64url' }),
  kid: Type.String(),
  alg: Type.Literal('EdDSA'),
  use: Type.Literal('sig'),
});

export const JwksReply = Type.Object(
  { keys: Type.Array(JwkSchema) },
  { description: 'Every key whose tokens verify now: the signing key and, during a rotation grace period, the previous one' },
);
export type JwksReply = Static<typeof JwksReply>;

export const IntrospectBody = Type.Object(
  {
    token: Type.String({
      minLength: 1,
      maxLength: 8192,
      description: 'A core access token, or (with tokenType) a token of legacy dialect B or E',
    }),
    tokenType: Type.Optional(
      Type.Union([Type.Literal('access_token'), Type.Literal('legacy-b'), Type.Literal('legacy-e')], {
        description:
          'The kind of token the caller accepts (default access_token). A legacy token is active only when asked for by its kind, so a resource server of the core API never mistakes one for an access token.',
      }),
    ),
    token_type_hint: Type.Optional(
      Type.String({
        maxLength: 64,
        description:
          'RFC 7662 hint (access_token, refresh_token, …); accepted and ignored: only access tokens (or tokenType) are introspected',
      }),
    ),
  },
  {
    additionalProperties: false,
    description: 'JSON, or an RFC 7662 form (application/x-www-form-urlencoded: token=…&token_type_hint=…)',
  },
);

export const IntrospectReply = Type.Union(
  [
    Type.Object({
      active: Type.Literal(true),
      sub: Type.String({ description: 'User id' }),
      sid: Type.String({ description: 'Session id' }),
      jti: Type.String(),
      iss: Type.String(),
      aud: Type.String(),
      iat: Type.Integer(),
      exp: Type.Integer(),
      kid: Type.Optional(Type.String()),
      amr: Type.Optional(
        Type.Array(Type.String(), {
          description:
            'RFC 8176 methods of the login behind the token: pwd, otp, sms, hwk, user, mfa (mfa: two factors were proven)',
        }),
      ),
      tokenType: Type.Literal('access_token'),
      token_type: Type.Literal('Bearer', { description: 'RFC 7662: how the token is presented' }),
    }),
    Type.Object(
      {
        active: Type.Literal(true),
        sub: Type.String({ description: 'User id' }),
        sid: Type.String({ description: 'Session id' }),
        exp: Type.Integer({ description: 'When the token itself expires (epoch seconds)' }),
        amr: Type.Optional(Type.Array(Type.String(), { description: 'RFC 8176 methods of the login behind the session' })),
        tokenType: Type.String({ pattern: '^legacy-[a-e]$', description: 'A legacy dialect’s token (legacy-b, legacy-e)' }),
        token_type: Type.Literal('Bearer', { description: 'RFC 7662: how the token is presented' }),
      },
      { description: 'A legacy dialect token the gateway issued, whose session is live' },
    ),
    Type.Object({
      active: Type.Literal(false),
      code: Type.String({
        description:
          'Why not: a TOKEN_* code of the error catalogue, or MFA_ENROLMENT_REQUIRED (VIGIL_MFA_REQUIRE=everyone, login without a second factor)',
      }),
    }),
  ],
  { description: 'RFC 7662-style: active means valid signature and claims, not expired, and its session is live' },
);
export type IntrospectReply = Static<typeof IntrospectReply>;

export const RotateKeysReply = Type.Object({
  kid: Type.String({ description: 'The new signing key' }),
  previousVerifiesForSeconds: Type.Integer({ description: 'How long tokens of the previous key still verify' }),
});
