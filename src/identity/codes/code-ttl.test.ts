import { describe, expect, it } from 'vitest';
import { parseCodeTtls } from './code-ttl.ts';

describe('VIGIL_CODE_TTL_SECONDS', () => {
  it('takes the most specific key: purpose.channel, then purpose, then channel', () => {
    const ttl = parseCodeTtls('email=600,sms=180,login=120,reset.email=900');
    expect(ttl({ channel: 'email', to: 'a@b.co', purpose: 'verify' })).toBe(600);
    expect(ttl({ channel: 'sms', to: '+821012345678', purpose: 'signup' })).toBe(180);
    expect(ttl({ channel: 'sms', to: '+821012345678', purpose: 'login' })).toBe(120);
    expect(ttl({ channel: 'email', to: 'a@b.co', purpose: 'reset' })).toBe(900);
    expect(ttl({ channel: 'sms', to: '+821012345678', purpose: 'reset' })).toBe(180);
  });

  it.each([
    ['email=600', 'VIGIL_CODE_TTL_SECONDS: needs a default for every channel; "sms=<seconds>" is missing'],
    ['email=600,sms=0', 'VIGIL_CODE_TTL_SECONDS: "sms=0" must be key=<whole seconds ≥ 1>'],
    ['email=600,sms=1.5', 'VIGIL_CODE_TTL_SECONDS: "sms=1.5" must be key=<whole seconds ≥ 1>'],
    [
      'email=600,sms=60,fax=5',
      'VIGIL_CODE_TTL_SECONDS: "fax" is not a channel (email, sms), a purpose (signup, login, reset, verify, withdraw) or purpose.channel',
    ],
    [
      'email=600,sms=60,login.fax=5',
      'VIGIL_CODE_TTL_SECONDS: "login.fax" is not a channel (email, sms), a purpose (signup, login, reset, verify, withdraw) or purpose.channel',
    ],
  ])('refuses %j with a message naming the variable', (spec, message) => {
    expect(() => parseCodeTtls(spec)).toThrow(message);
  });
});
