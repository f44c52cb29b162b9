import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deriveKey, open, seal } from './sealed-box.ts';

describe('sealed box', () => {
  const key = randomBytes(32);

  it('opens what it sealed, under the same key and associated data', () => {
    const box = seal(key, 'a secret pair', 'session-1');
    expect(box).not.toContain('secret');
    expect(open(key, box, 'session-1')).toBe('a secret pair');
  });

  it('refuses a wrong key, other associated data, or a flipped bit', () => {
    const box = seal(key, 'a secret pair', 'session-1');
    expect(open(randomBytes(32), box, 'session-1')).toBeUndefined();
    expect(open(key, box, 'session-2')).toBeUndefined();
    const bytes = Buffer.from(box, 'base64url');
    bytes[bytes.length - 1]! ^= 1;
    expect(open(key, bytes.toString('base64url'), 'session-1')).toBeUndefined();
    expect(open(key, 'short', 'session-1')).toBeUndefined();
  });

  it('derives independent keys per purpose and context from one secret', () => {
    const a = deriveKey('refresh-token', 'grace', 'session-1');
    expect(a).toHaveLength(32);
    expect(deriveKey('refresh-token', 'grace', 'session-1')).toEqual(a);
    expect(deriveKey('refresh-token', 'grace', 'session-2')).not.toEqual(a);
    expect(deriveKey('refresh-token', 'other', 'session-1')).not.toEqual(a);
  });
});
