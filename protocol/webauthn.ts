import { Type } from '@sinclair/typebox';

/**
 * WebAuthn responses as browsers serialise them (PublicKeyCredential.toJSON()): the HTTP passkey
 * routes and the socket's `stepup` message take them. Standalone, so the client SDK's message
 * types do not pull in the HTTP schemas.
 */

const B64URL = '^[A-Za-z0-9_-]*$';
const b64url = (maxLength: number, description: string) => Type.String({ pattern: B64URL, minLength: 1, maxLength, description });

export const CredentialIdPattern = '^[A-Za-z0-9_-]{16,1366}$';

/** What `PublicKeyCredential.toJSON()` gives after `navigator.credentials.create()`. */
export const RegistrationResponse = Type.Object(
  {
    id: Type.String({ pattern: CredentialIdPattern, description: 'The credential id (base64url)' }),
    rawId: Type.String({ pattern: CredentialIdPattern }),
    type: Type.Literal('public-key'),
    response: Type.Object(
      {
        clientDataJSON: b64url(4096, 'base64url'),
        attestationObject: b64url(32768, 'base64url'),
        transports: Type.Optional(Type.Array(Type.String({ maxLength: 32 }), { maxItems: 8 })),
      },
      { additionalProperties: true },
    ),
    clientExtensionResults: Type.Optional(Type.Object({}, { additionalProperties: true })),
    authenticatorAttachment: Type.Optional(Type.String({ maxLength: 32 })),
  },
  { additionalProperties: true, description: 'The new credential, as PublicKeyCredential.toJSON() serialises it' },
);

/** What `PublicKeyCredential.toJSON()` gives after `navigator.credentials.get()`. */
export const AuthenticationResponse = Type.Object(
  {
    id: Type.String({ pattern: CredentialIdPattern, description: 'The credential id (base64url)' }),
    rawId: Type.String({ pattern: CredentialIdPattern }),
    type: Type.Literal('public-key'),
    response: Type.Object(
      {
        clientDataJSON: b64url(4096, 'base64url'),
        authenticatorData: b64url(4096, 'base64url'),
        signature: b64url(1024, 'base64url'),
        userHandle: Type.Optional(Type.String({ pattern: B64URL, maxLength: 128 })),
      },
      { additionalProperties: true },
    ),
    clientExtensionResults: Type.Optional(Type.Object({}, { additionalProperties: true })),
    authenticatorAttachment: Type.Optional(Type.String({ maxLength: 32 })),
  },
  { additionalProperties: true, description: 'The assertion, as PublicKeyCredential.toJSON() serialises it' },
);
