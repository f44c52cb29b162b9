import type { Cluster } from 'ioredis';

/** A hash tag's cluster slot: CRC16 (XMODEM) of its bytes, mod 16384, as the Redis Cluster spec defines it. */
export function tagSlot(tag: string): number {
  let crc = 0;
  for (const byte of Buffer.from(tag)) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

/**
 * Hash tags, one for each master in the client's slot map: a key with one of them goes to that
 * master. Masters own ranges of thousands of slots, so a few counted tags cover them all.
 */
export function tagPerMaster(cluster: Pick<Cluster, 'slots'>): string[] {
  const masters = new Set(cluster.slots.map((nodes) => nodes[0]).filter((node) => node !== undefined));
  const tags = new Map<string, string>();
  for (let i = 0; tags.size < masters.size && i < 1_000_000; i++) {
    const master = cluster.slots[tagSlot(String(i))]?.[0];
    if (master !== undefined && !tags.has(master)) tags.set(master, String(i));
  }
  return [...tags.values()];
}
