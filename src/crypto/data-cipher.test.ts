import { describe, expect, it } from 'vitest';
import { DataCipher, parseDataKeys } from './data-cipher.ts';

const key = (fill: number) => Buffer.alloc(32, fill);

describe('DataCipher', () => {
  const plain = Uint8Array.from({ length: 100 }, (_, i) => i);

  it('seals with the first key and opens what it sealed', () => {
    const cipher = new DataCipher([{ id: 'k2', key: key(2) }]);
    const sealed = cipher.seal(plain, 'models:1:onnx');
    expect(Buffer.from(sealed).includes(Buffer.from(plain.subarray(0, 16)))).toBe(false);
    expect(Buffer.from(cipher.open(sealed, 'models:1:onnx'))).toEqual(Buffer.from(plain));
  });

  it('refuses data moved to another place (the context is authenticated) or tampered with', () => {
    const cipher = new DataCipher([{ id: 'k2', key: key(2) }]);
    const sealed = cipher.seal(plain, 'enrollment_parts:a:0');
    expect(() => cipher.open(sealed, 'enrollment_parts:b:0')).toThrow();
    const tampered = Uint8Array.from(sealed);
    tampered[tampered.length - 1]! ^= 1;
    expect(() => cipher.open(tampered, 'enrollment_parts:a:0')).toThrow();
  });

  it('rotates: a new first key seals, the old one still opens its data; a dropped key is named', () => {
    const old = new DataCipher([{ id: 'k1', key: key(1) }]);
    const sealedOld = old.seal(plain, 'c');
    const rotated = new DataCipher([
      { id: 'k2', key: key(2) },
      { id: 'k1', key: key(1) },
    ]);
    expect(rotated.keyId).toBe('k2');
    expect(Buffer.from(rotated.open(sealedOld, 'c'))).toEqual(Buffer.from(plain));
    const retired = new DataCipher([{ id: 'k2', key: key(2) }]);
    expect(() => retired.open(sealedOld, 'c')).toThrow(/key "k1"/);
  });

  it('parses VIGIL_BIOMETRIC_KEYS and names what is wrong', () => {
    expect(parseDataKeys(undefined)).toBeUndefined();
    expect(parseDataKeys(`a:${key(1).toString('base64')},b:${key(2).toString('base64')}`)?.map((k) => k.id)).toEqual(['a', 'b']);
    expect(() => parseDataKeys(`a:${key(1).toString('base64')},a:${key(2).toString('base64')}`)).toThrow(/appears twice/);
    expect(() => parseDataKeys('a:AAAA')).toThrow(/must be 32 bytes/);
  });
});
