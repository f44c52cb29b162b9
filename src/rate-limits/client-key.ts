import { isIP } from 'node:net';

/**
 * The part of a client address that per-IP limits count. One IPv6 subscriber is routinely given
 * a whole /64 and can pick any address in it, so IPv6 clients are counted by their /64; IPv4
 * addresses count as they are. Audit records keep the full address.
 */
export function clientKey(ip: string | undefined): string {
  if (!ip) return 'unknown';
  if (isIP(ip) !== 6) return ip;
  return `${expandIpv6(ip).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, without leading zeros. */
function expandIpv6(ip: string): string[] {
  let text = ip.toLowerCase().split('%')[0]!;
  // A trailing dotted quad (::ffff:1.2.3.4, 64:ff9b::1.2.3.4) becomes two groups.
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const missing = tail === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...Array<string>(missing).fill('0'), ...right].map((group) => parseInt(group || '0', 16).toString(16));
}
