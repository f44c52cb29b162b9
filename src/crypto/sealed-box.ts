import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM with a random 96-bit nonce: `nonce ‖ tag ‖ ciphertext`, base64url. Used to keep
 * secrets at rest only in a form that needs a key we do not store next to them (generated
 * private keys under VIGIL_JWT_KEY_ENCRYPTION_KEY; a refresh grace pair under a key derived
 * from the refresh token it answers).
 */
export function seal(key: Buffer, plaintext: string, associatedData = ''): string {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(associatedData));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([nonce, cipher.getAuthTag(), body]).toString('base64url');
}

/** The plaintext, or undefined when the key is wrong or the box was tampered with. */
export function open(key: Buffer, sealed: string, associatedData = ''): string | undefined {
  const bytes = Buffer.from(sealed, 'base64url');
  if (bytes.length < 28) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, 12));
    decipher.setAAD(Buffer.from(associatedData));
    decipher.setAuthTag(bytes.subarray(12, 28));
    return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}

/** A 256-bit key for `purpose`, derived from high-entropy input keying material (HKDF-SHA256). */
export function deriveKey(secret: string | Buffer, purpose: string, context = ''): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, purpose, context, 32));
}
