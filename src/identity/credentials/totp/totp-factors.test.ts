import { generate } from 'otplib';
import { describe, expect, it } from 'vitest';
import { base32 } from './totp-factors.ts';
import { recoveryCodeDigest, newRecoveryCodes } from './recovery-codes.ts';

// RFC 6238 Appendix B, SHA-1 rows: the shared secret is the ASCII string "12345678901234567890".
const RFC6238_SHA1: Array<[number, string]> = [
  [59, '94287082'],
  [1111111109, '07081804'],
  [1111111111, '14050471'],
  [1234567890, '89005924'],
  [2000000000, '69279037'],
  [20000000000, '65353130'],
];

describe('TOTP parameters', () => {
  it('encodes secrets in RFC 4648 Base32 and matches every RFC 6238 SHA-1 test vector (8 and 6 digits)', async () => {
    const secret = base32(Buffer.from('12345678901234567890'));
    expect(secret).toBe('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
    for (const [epoch, expected] of RFC6238_SHA1) {
      expect(await generate({ secret, epoch, digits: 8, period: 30 })).toBe(expected);
      // Authenticator apps show 6 digits: the same HOTP value modulo 10^6.
      expect(await generate({ secret, epoch, period: 30 })).toBe(expected.slice(2));
    }
  });

  it('makes ten distinct recovery codes whose digest ignores case and separators', () => {
    const codes = newRecoveryCodes();
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$/);
    expect(recoveryCodeDigest(codes[0]!.toLowerCase().replace('-', ' '))).toBe(recoveryCodeDigest(codes[0]!));
  });
});
