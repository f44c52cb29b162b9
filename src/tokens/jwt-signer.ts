import { webcrypto } from 'node:crypto';
import { SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import type { KeyRing } from './key-ring.ts';

/**
 * Signs a claims set into a compact JWT. Pluggable so a legacy dialect can mint its own token
 * shape (claim names, HS512) while binding it to a real session of the core.
 */
export interface JwtSigner {
  readonly alg: 'EdDSA' | 'HS512';
  /** `claims` must already carry iat/exp (and whatever else the dialect wants); the signer adds the header. */
  sign(claims: JWTPayload, header?: { typ?: string }): Promise<string>;
}

/** Ed25519 with the key ring's current key; the header names the key (`kid`) for verifiers. */
export function eddsaSigner(ring: KeyRing): JwtSigner {
  return {
    alg: 'EdDSA',
    async sign(claims, header = {}) {
      const { kid, key } = ring.signingKey();
      return new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', kid, ...header }).sign(key);
    },
  };
}

/** HMAC-SHA512 with a shared secret: only for the legacy dialect whose clients expect it. */
export function hs512Signer(secret: CryptoKey): JwtSigner {
  return {
    alg: 'HS512',
    async sign(claims, header = {}) {
      return new SignJWT(claims).setProtectedHeader({ alg: 'HS512', ...header }).sign(secret);
    },
  };
}

/**
 * Imports an HS512 secret once. RFC 7518 requires at least the hash size (64 bytes) of key
 * material; a shorter secret is refused rather than silently weakening the tokens.
 */
export async function hs512Secret(secret: string | Buffer, optionName: string): Promise<CryptoKey> {
  const bytes = new Uint8Array(typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret);
  if (bytes.length < 64) throw new Error(`${optionName} must be at least 64 bytes for HS512 (got ${bytes.length})`);
  return await webcrypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash: 'SHA-512' }, false, ['sign', 'verify']);
}
