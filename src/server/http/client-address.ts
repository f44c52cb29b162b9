import { BlockList, isIP } from 'node:net';
import { ConfigError } from '../../config/config.ts';

/** Loopback only: a proxy on the same host. Anything else must be listed in VIGIL_TRUSTED_PROXIES. */
export const DEFAULT_TRUSTED_PROXIES = '127.0.0.0/8,::1/128';

/**
 * Who the client is, when proxies stand in front. Each proxy appends the peer it saw to
 * X-Forwarded-For, so only the right-hand end of the list was written by proxies we trust;
 * everything to the left of the first hop we do not trust was written by the client and is
 * ignored. Walking from the socket's peer leftwards through trusted proxies, the first untrusted
 * address is the client. Without trust in the peer itself the header is not read at all.
 */
export class ClientAddressResolver {
  private constructor(private readonly trusted: BlockList | undefined) {}

  /** `trustedProxies` is a comma list of addresses and CIDR ranges; undefined ignores X-Forwarded-For. */
  static fromConfig(trustProxy: boolean, trustedProxies: string, variable = 'VIGIL_TRUSTED_PROXIES'): ClientAddressResolver {
    if (!trustProxy) return new ClientAddressResolver(undefined);
    const list = new BlockList();
    const problems: string[] = [];
    for (const entry of trustedProxies
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean)) {
      const [address = '', bits] = entry.split('/');
      const family = isIP(address);
      const prefix = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits);
      if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32)) {
        problems.push(`${variable}: "${entry}" is not an IP address or CIDR range`);
        continue;
      }
      list.addSubnet(address, prefix, family === 6 ? 'ipv6' : 'ipv4');
    }
    if (problems.length > 0) throw new ConfigError(problems);
    return new ClientAddressResolver(list);
  }

  /** The client's address from the socket peer and the X-Forwarded-For header (as received). */
  resolve(peer: string, forwardedFor: string | undefined): string {
    let client = normalizeAddress(peer) ?? peer;
    if (!this.trusted || !forwardedFor || !this.isTrusted(client)) return client;
    const hops = forwardedFor.split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = normalizeAddress(hops[i]!);
      // A hop that is not an address was not written by a proxy we trust: stop at the last one that was.
      if (hop === undefined) return client;
      client = hop;
      if (!this.isTrusted(hop)) return hop;
    }
    return client;
  }

  private isTrusted(address: string): boolean {
    const family = isIP(address);
    return family !== 0 && this.trusted!.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }
}

/** An address as written in a header or by uWS: brackets, ports and the IPv4-mapped form removed. */
export function normalizeAddress(text: string): string | undefined {
  let value = text.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(value);
  if (bracketed) value = bracketed[1]!;
  else if (/^[\d.]+:\d+$/.test(value)) value = value.slice(0, value.indexOf(':'));
  value = value.toLowerCase();
  if (value.startsWith('::ffff:') && isIP(value.slice(7)) === 4) value = value.slice(7);
  return isIP(value) === 0 ? undefined : value;
}
