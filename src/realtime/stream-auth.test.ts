import { describe, expect, it } from 'vitest';
import { upgradeCredentials } from './stream-auth.ts';

describe('upgradeCredentials', () => {
  it('takes the token from Authorization: Bearer', () => {
    expect(upgradeCredentials('Bearer abc.def.ghi', 'vigil.v1')).toEqual({ token: 'abc.def.ghi', protocol: 'vigil.v1' });
    expect(upgradeCredentials('bearer   abc', '')).toEqual({ token: 'abc', protocol: '' });
  });

  it('takes the token from a bearer subprotocol and never selects it', () => {
    expect(upgradeCredentials('', 'vigil.v1, bearer.abc.def.ghi')).toEqual({ token: 'abc.def.ghi', protocol: 'vigil.v1' });
    expect(upgradeCredentials('', 'bearer.abc')).toEqual({ token: 'abc', protocol: '' });
  });

  it('prefers the header when both carry a token', () => {
    expect(upgradeCredentials('Bearer from-header', 'vigil.v1, bearer.from-protocol').token).toBe('from-header');
  });

  it('finds no token in other schemes or an empty bearer subprotocol', () => {
    expect(upgradeCredentials('Basic dXNlcjpwdw==', 'vigil.v1, bearer.').token).toBeUndefined();
    expect(upgradeCredentials('', '').token).toBeUndefined();
  });
});
