import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** One data key: its id (stored beside every sealed value) and 32 bytes of AES-256 key. */
export interface DataKey {
  id: string;
  key: Buffer;
}

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Seals data at rest under a ring of named keys with AES-256-GCM: biometric enrolment samples,
 * model graphs and detector parameters (VIGIL_BIOMETRIC_KEYS), second-factor secrets
 * (VIGIL_MFA_KEYS). Unlike sealed-box.ts (one key, strings), values carry their key id so keys
 * rotate. The first key seals; every key opens what it sealed, so a rotation adds a new first
 * key and keeps the old ones until their data is re-enrolled or deleted (docs/biometrics.md).
 * Each value is bound to where it lives (`context`, the additional authenticated data): a sealed
 * part moved onto another account's document does not open.
 *
 * Layout: version (1) · key id length (1) · key id · IV (12) · tag (16) · ciphertext.
 */
export class DataCipher {
  private readonly byId: Map<string, Buffer>;

  constructor(private readonly keys: readonly DataKey[]) {
    if (keys.length === 0) throw new TypeError('DataCipher needs at least one key');
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  /** The id of the key new data is sealed with. */
  get keyId(): string {
    return this.keys[0]!.id;
  }

  seal(plain: Uint8Array, context: string): Uint8Array {
    const { id, key } = this.keys[0]!;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(context));
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    const kid = Buffer.from(id);
    return Buffer.concat([Buffer.from([VERSION, kid.length]), kid, iv, cipher.getAuthTag(), body]);
  }

  open(sealed: Uint8Array, context: string): Uint8Array {
    const bytes = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    if (bytes[0] !== VERSION) throw new Error(`sealed biometric data of unknown version ${bytes[0]}`);
    const kidLength = bytes[1]!;
    const kid = bytes.subarray(2, 2 + kidLength).toString();
    const key = this.byId.get(kid);
    if (!key) throw new Error(`biometric data sealed with key "${kid}", which VIGIL_BIOMETRIC_KEYS no longer holds`);
    let at = 2 + kidLength;
    const iv = bytes.subarray(at, (at += IV_BYTES));
    const tag = bytes.subarray(at, (at += TAG_BYTES));
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(bytes.subarray(at)), decipher.final()]);
  }
}

/**
 * VIGIL_BIOMETRIC_KEYS: `id:base64key[,id:base64key…]`, the first sealing new data. Undefined
 * when unset (development and tests without keys store plaintext; production refuses to start).
 * Throws TypeError naming the setting when a key is malformed.
 */
export function parseDataKeys(value: string | undefined): DataKey[] | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const keys: DataKey[] = [];
  for (const entry of value.split(',')) {
    const match = /^\s*([A-Za-z0-9._-]{1,64}):([A-Za-z0-9+/=_-]+)\s*$/.exec(entry);
    if (!match) throw new TypeError('VIGIL_BIOMETRIC_KEYS must be id:base64key pairs separated by commas');
    const key = Buffer.from(match[2]!, 'base64');
    if (key.length !== 32)
      throw new TypeError(`VIGIL_BIOMETRIC_KEYS: key "${match[1]}" must be 32 bytes (base64), got ${key.length}`);
    if (keys.some((k) => k.id === match[1])) throw new TypeError(`VIGIL_BIOMETRIC_KEYS: key id "${match[1]}" appears twice`);
    keys.push({ id: match[1]!, key });
  }
  return keys;
}

/** The deployment's cipher, or undefined (plaintext) when no keys are configured. */
export function dataCipher(config: { VIGIL_BIOMETRIC_KEYS?: string | undefined }): DataCipher | undefined {
  const keys = parseDataKeys(config.VIGIL_BIOMETRIC_KEYS);
  return keys ? new DataCipher(keys) : undefined;
}
