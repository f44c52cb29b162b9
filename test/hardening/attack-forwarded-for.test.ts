import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { ATTACKER_ADDRESS, clientFrom } from './support/from-address.ts';

// Behind a proxy that appends the peer it saw to X-Forwarded-For, whatever the client sent first
// stays on the left. A gateway that believes the left-most hop lets every client choose the
// address its per-IP limits count. The test plays the proxy (it connects from loopback, the
// default trusted proxy) and sends what such a proxy forwards: "<client's own header>, <peer>".

const LOGINS_PER_IP = 5;

async function attempts(gw: TestGateway, headers: (i: number) => Record<string, string>, count = 12) {
  const client = clientFrom(gw.url, '127.0.0.1');
  const answers = await Promise.all(
    Array.from({ length: count }, (_, i) => client.post('/v1/sessions', { identifier: `nobody${i}`, password: 'x' }, headers(i))),
  );
  return answers.map((answer) => answer.status);
}

describe('X-Forwarded-For behind an appending proxy', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ TRUST_PROXY: '1', VIGIL_LOGIN_PER_IP: String(LOGINS_PER_IP) });
  });
  afterAll(() => gw.close());

  it('a client that writes a fresh address into its own X-Forwarded-For still hits its per-IP limit', async () => {
    const statuses = await attempts(gw, (i) => ({ 'x-forwarded-for': `198.51.100.${i}, 203.0.113.9` }));
    expect(statuses.filter((s) => s === 401)).toHaveLength(LOGINS_PER_IP);
    expect(statuses.filter((s) => s === 429)).toHaveLength(12 - LOGINS_PER_IP);
  });

  it('an IPv6 client that walks its /64 still hits one limit', async () => {
    const statuses = await attempts(gw, (i) => ({ 'x-forwarded-for': `2001:db8:7:9::${(i + 1).toString(16)}` }));
    expect(statuses.filter((s) => s === 429)).toHaveLength(12 - LOGINS_PER_IP);
    // Another /64 is another subscriber.
    const other = await attempts(gw, () => ({ 'x-forwarded-for': '2001:db8:7:a::1' }), 1);
    expect(other).toEqual([401]);
  });
});

describe('X-Forwarded-For from a peer that is not a trusted proxy', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({
      TRUST_PROXY: '1',
      VIGIL_TRUSTED_PROXIES: '127.0.0.1/32',
      VIGIL_LOGIN_PER_IP: String(LOGINS_PER_IP),
    });
  });
  afterAll(() => gw.close());

  it('is ignored: a client on 127.0.0.2 cannot pose as a proxy and name its own addresses', async () => {
    const attacker = clientFrom(gw.url, ATTACKER_ADDRESS);
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        attacker.post('/v1/sessions', { identifier: `nobody${i}`, password: 'x' }, { 'x-forwarded-for': `198.51.100.${i}` }),
      ),
    );
    expect(answers.filter((a) => a.status === 429)).toHaveLength(12 - LOGINS_PER_IP);
  });
});
