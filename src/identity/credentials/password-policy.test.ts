import { describe, expect, it } from 'vitest';
import { VigilError } from '../../../protocol/errors.ts';
import { checkPasswordPolicy } from './password-policy.ts';

function failure(run: () => void): VigilError {
  try {
    run();
  } catch (err) {
    if (err instanceof VigilError) return err;
    throw err;
  }
  throw new Error('expected the policy to refuse');
}

describe('password policy', () => {
  it('accepts a reasonable password', () => {
    expect(() => checkPasswordPolicy('correct horse battery', { username: 'kim' })).not.toThrow();
  });

  it('refuses fewer than 8 characters, naming the field', () => {
    const err = failure(() => checkPasswordPolicy('short', { field: 'newPassword' }));
    expect(err.code).toBe('PASSWORD_TOO_SHORT');
    expect(err.status).toBe(400);
    expect(err.details).toEqual([{ field: 'newPassword', message: 'newPassword must be at least 8 characters long' }]);
  });

  it('counts the 72-byte bcrypt limit in UTF-8 bytes, not characters', () => {
    expect(() => checkPasswordPolicy('a'.repeat(72))).not.toThrow();
    expect(failure(() => checkPasswordPolicy('a'.repeat(73))).code).toBe('PASSWORD_TOO_LONG');
    // 25 Hangul syllables are 25 characters but 75 bytes.
    const err = failure(() => checkPasswordPolicy('가'.repeat(25)));
    expect(err.code).toBe('PASSWORD_TOO_LONG');
    expect(err.message).toBe('password is 75 bytes in UTF-8; bcrypt uses at most 72, so longer passwords are refused');
    expect(err.details?.[0]?.field).toBe('password');
  });

  it('refuses the username, email (or its local part) and phone as the password', () => {
    expect(failure(() => checkPasswordPolicy('Hyeonggeun2', { username: 'hyeonggeun2' })).params.identifier).toBe('username');
    expect(failure(() => checkPasswordPolicy('kim.minji@example.com', { email: 'kim.minji@example.com' })).code).toBe(
      'PASSWORD_MATCHES_IDENTIFIER',
    );
    expect(failure(() => checkPasswordPolicy('kim.minji', { email: 'kim.minji@example.com' })).params.identifier).toBe('email');
    expect(failure(() => checkPasswordPolicy('01012345678', { phone: '+821012345678' })).params.identifier).toBe('phone');
  });

  it('lets a legacy dialect lower the minimum length', () => {
    expect(() => checkPasswordPolicy('hi', { minLength: 2 })).not.toThrow();
  });
});
