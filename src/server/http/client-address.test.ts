import { describe, expect, it } from 'vitest';
import { clientKey } from '../../rate-limits/client-key.ts';
import { ClientAddressResolver, DEFAULT_TRUSTED_PROXIES, normalizeAddress } from './client-address.ts';

describe('client address behind proxies', () => {
  const resolver = ClientAddressResolver.fromConfig(true, `${DEFAULT_TRUSTED_PROXIES},10.0.0.0/8`);

  it('takes the right-most hop that is not a trusted proxy', () => {
    expect(resolver.resolve('127.0.0.1', '198.51.100.1, 203.0.113.9, 10.0.0.4')).toBe('203.0.113.9');
    expect(resolver.resolve('::ffff:127.0.0.1', '203.0.113.9')).toBe('203.0.113.9');
  });

  it('ignores the header from a peer that is not trusted, and when the setting is off', () => {
    expect(resolver.resolve('192.0.2.7', '198.51.100.1')).toBe('192.0.2.7');
    expect(ClientAddressResolver.fromConfig(false, DEFAULT_TRUSTED_PROXIES).resolve('127.0.0.1', '198.51.100.1')).toBe(
      '127.0.0.1',
    );
  });

  it('stops at a hop that is not an address, and reads ports and brackets', () => {
    expect(resolver.resolve('127.0.0.1', 'unknown, 10.0.0.9')).toBe('10.0.0.9');
    expect(normalizeAddress('[2001:db8::1]:443')).toBe('2001:db8::1');
    expect(normalizeAddress('203.0.113.9:5000')).toBe('203.0.113.9');
  });

  it('refuses a configuration entry that is not an address or range, naming the variable', () => {
    expect(() => ClientAddressResolver.fromConfig(true, '10.0.0.0/33')).toThrow(/VIGIL_TRUSTED_PROXIES: "10.0.0.0\/33"/);
  });

  it('counts IPv6 clients by their /64 and IPv4 ones by address', () => {
    expect(clientKey('2001:db8:7:9::1')).toBe(clientKey('2001:0db8:0007:0009:ffff:1:2:3'));
    expect(clientKey('2001:db8:7:9::1')).toBe('2001:db8:7:9::/64');
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
    expect(clientKey('203.0.113.9')).toBe('203.0.113.9');
    expect(clientKey(undefined)).toBe('unknown');
  });
});
