import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';

/**
 * A software WebAuthn authenticator for tests over HTTP: it makes the same JSON a browser's
 * PublicKeyCredential.toJSON() does (ES256, "none" attestation), and can be told to lie (another
 * origin or RP ID, a counter going backwards, a bad signature) to exercise each refusal.
 */
export interface SoftCredential {
  id: string;
  privateKey: KeyObject;
  cosePublicKey: Uint8Array;
  userHandle: string;
  counter: number;
}

const b64url = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();

const UP = 0x01;
const UV = 0x04;
const BE = 0x08;
const BS = 0x10;
const AT = 0x40;

export interface CeremonyOverrides {
  origin?: string;
  rpId?: string;
  type?: string;
  challenge?: string;
  /** The signature counter this response carries (default: the credential's, plus one). */
  counter?: number;
  /** Sign something else: the signature will not verify. */
  corruptSignature?: boolean;
  backedUp?: boolean;
  /** Claim this credential id at registration (someone else's). */
  credentialId?: string;
}

export class SoftAuthenticator {
  constructor(
    readonly rpId: string,
    readonly origin: string,
  ) {}

  /** navigator.credentials.create() over `options` (the JSON the gateway answered). */
  create(options: { challenge: string; user: { id: string } }, overrides: CeremonyOverrides = {}) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const cose = isoCBOR.encode(
      new Map<number, number | Uint8Array>([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, Buffer.from(jwk.x!, 'base64url')],
        [-3, Buffer.from(jwk.y!, 'base64url')],
      ]),
    );
    const id = overrides.credentialId ? Buffer.from(overrides.credentialId, 'base64url') : randomBytes(16);
    const counter = overrides.counter ?? 0;
    const authData = Buffer.concat([
      sha256(overrides.rpId ?? this.rpId),
      Buffer.from([UP | UV | AT | BE | (overrides.backedUp === false ? 0 : BS)]),
      u32(counter),
      Buffer.alloc(16), // AAGUID: none
      Buffer.from([0, id.length]),
      id,
      cose,
    ]);
    const attestationObject = isoCBOR.encode(
      new Map<string, string | Uint8Array | Map<string, string>>([
        ['fmt', 'none'],
        ['attStmt', new Map<string, string>()],
        ['authData', authData],
      ]),
    );
    const credential: SoftCredential = {
      id: b64url(id),
      privateKey,
      cosePublicKey: cose,
      userHandle: options.user.id,
      counter,
    };
    const response = {
      id: credential.id,
      rawId: credential.id,
      type: 'public-key',
      response: {
        clientDataJSON: this.clientData('webauthn.create', options.challenge, overrides),
        attestationObject: b64url(attestationObject),
        transports: ['internal'],
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
    return { credential, response };
  }

  /** navigator.credentials.get() with `credential` over `options`. Moves its counter forward. */
  get(credential: SoftCredential, options: { challenge: string }, overrides: CeremonyOverrides = {}) {
    const counter = overrides.counter ?? credential.counter + 1;
    if (overrides.counter === undefined) credential.counter = counter;
    const authData = Buffer.concat([
      sha256(overrides.rpId ?? this.rpId),
      Buffer.from([UP | UV | BE | (overrides.backedUp === false ? 0 : BS)]),
      u32(counter),
    ]);
    const clientDataJSON = this.clientData(overrides.type ?? 'webauthn.get', options.challenge, overrides);
    const signed = Buffer.concat([authData, sha256(Buffer.from(clientDataJSON, 'base64url'))]);
    const signature = sign(
      'sha256',
      overrides.corruptSignature ? Buffer.concat([signed, Buffer.from([1])]) : signed,
      credential.privateKey,
    );
    return {
      id: credential.id,
      rawId: credential.id,
      type: 'public-key',
      response: {
        clientDataJSON,
        authenticatorData: b64url(authData),
        signature: b64url(signature),
        userHandle: credential.userHandle,
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }

  private clientData(type: string, challenge: string, overrides: CeremonyOverrides): string {
    return b64url(
      JSON.stringify({
        type: overrides.type ?? type,
        challenge: overrides.challenge ?? challenge,
        origin: overrides.origin ?? this.origin,
        crossOrigin: false,
      }),
    );
  }
}

function u32(value: number): Buffer {
  const buf = Buffer.alloc(4);
  buf.writeUInt32BE(value);
  return buf;
}
