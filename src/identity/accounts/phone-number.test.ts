import { describe, expect, it } from 'vitest';
import { looksLikePhone, normalizePhone } from './phone-number.ts';

describe('normalizePhone', () => {
  it.each([
    ['01012345678', '+821012345678'],
    ['010-1234-5678', '+821012345678'],
    ['010 1234 5678', '+821012345678'],
    ['+82 10 1234 5678', '+821012345678'],
    ['+82 010-1234-5678', '+821012345678'], // trunk 0 kept after the country code
    ['0082 10 1234 5678', '+821012345678'],
    ['+1 (202) 555-0123', '+12025550123'],
    ['+447911123456', '+447911123456'],
    ['0212345678', '+82212345678'], // Seoul landline
  ])('reads %s in region KR as %s', (input, expected) => {
    expect(normalizePhone(input, 'KR')).toBe(expected);
  });

  it('reads national numbers in the configured region', () => {
    expect(normalizePhone('(202) 555-0123', 'US')).toBe('+12025550123');
    expect(normalizePhone('1 202 555 0123', 'US')).toBe('+12025550123');
    expect(normalizePhone('09012345678', 'JP')).toBe('+819012345678');
  });

  it.each(['', 'abc', '010-1234-567a', '+0123456789', '123', '+1234567890123456', '0101234'])('refuses %j', (input) => {
    expect(normalizePhone(input, 'KR')).toBeUndefined();
  });

  it('refuses national numbers when the region is unknown', () => {
    expect(normalizePhone('01012345678', 'ZZ')).toBeUndefined();
    expect(normalizePhone('+821012345678', 'ZZ')).toBe('+821012345678');
  });

  it('tells phone-like identifiers from usernames', () => {
    expect(looksLikePhone('010-1234-5678')).toBe(true);
    expect(looksLikePhone('+821012345678')).toBe(true);
    expect(looksLikePhone('kim010')).toBe(false);
  });
});
