import { Type } from '@sinclair/typebox';
import { DeviceInput } from './accounts.ts';
import { AuthenticationResponse, CredentialIdPattern, RegistrationResponse } from '../webauthn.ts';

export { AuthenticationResponse, CredentialIdPattern, RegistrationResponse } from '../webauthn.ts';

/** Passkeys (WebAuthn): ceremony options and responses, the caller's named credentials. */

export const PasskeyName = Type.String({
  minLength: 1,
  maxLength: 64,
  description: 'A name the owner recognises ("work laptop")',
});

export const RegistrationOptionsBody = Type.Object({}, { additionalProperties: false });

export const PasskeyOptionsReply = Type.Object({
  options: Type.Object(
    { challenge: Type.String() },
    {
      additionalProperties: true,
      description:
        'PublicKeyCredentialCreationOptionsJSON / RequestOptionsJSON: hand to PublicKeyCredential.parse…OptionsFromJSON() and navigator.credentials',
    },
  ),
  expiresIn: Type.Integer({ description: 'Seconds the challenge lives (single use)' }),
});

export const RegisterPasskeyBody = Type.Object(
  { name: PasskeyName, response: RegistrationResponse },
  { additionalProperties: false },
);

export const RenamePasskeyBody = Type.Object({ name: PasskeyName }, { additionalProperties: false });

export const PasskeyIdParams = Type.Object({ id: Type.String({ pattern: CredentialIdPattern }) });

export const PasskeyView = Type.Object({
  id: Type.String({ description: 'The credential id (base64url)' }),
  name: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  lastUsedAt: Type.Optional(Type.String({ format: 'date-time' })),
  backupEligible: Type.Boolean({ description: 'The authenticator may sync this passkey to other devices (BE flag)' }),
  backedUp: Type.Boolean({ description: 'The passkey is currently synced/backed up (BS flag, as last seen)' }),
  transports: Type.Array(Type.String()),
});

export const PasskeyListReply = Type.Object({ passkeys: Type.Array(PasskeyView) });

export const PasskeyLoginBody = Type.Object(
  { response: AuthenticationResponse, device: Type.Optional(DeviceInput) },
  {
    additionalProperties: false,
    description: 'A discoverable-credential assertion over the options of POST /v1/sessions/passkey/options',
  },
);

export const MfaPasskeyOptionsBody = Type.Object(
  { ticket: Type.String({ minLength: 16, maxLength: 128, description: 'From the 202 answer of POST /v1/sessions' }) },
  { additionalProperties: false },
);
