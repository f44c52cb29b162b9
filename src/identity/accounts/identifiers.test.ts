import { describe, expect, it } from 'vitest';
import { classifyIdentifier, isValidUsername, usernameKey } from './identifiers.ts';

describe('identifiers', () => {
  it('classifies a login identifier by its shape and normalises it', () => {
    expect(classifyIdentifier(' Kim@Example.COM ', 'KR')).toEqual({ kind: 'email', value: 'kim@example.com' });
    expect(classifyIdentifier('010-1234-5678', 'KR')).toEqual({ kind: 'phone', value: '+821012345678' });
    expect(classifyIdentifier('Hyeonggeun2', 'KR')).toEqual({ kind: 'username', value: 'hyeonggeun2' });
    expect(classifyIdentifier('도도', 'KR')).toEqual({ kind: 'username', value: '도도' });
    expect(classifyIdentifier('not an @ email', 'KR')).toBeUndefined();
    expect(classifyIdentifier('12-34', 'KR')).toBeUndefined();
  });

  it('folds width and case in the unique username key', () => {
    expect(usernameKey('Ｋｉｍ')).toBe('kim');
    expect(usernameKey('KIM')).toBe(usernameKey('kim'));
  });

  it('needs a letter in a username, so it is never read as a phone number', () => {
    expect(isValidUsername('12345678')).toBe(false);
    expect(isValidUsername('phj123')).toBe(true);
    expect(isValidUsername('a')).toBe(false);
    expect(isValidUsername('has space')).toBe(false);
    expect(isValidUsername('x'.repeat(33))).toBe(false);
  });
});
