import { describe, expect, it } from 'vitest';
import { tagPerMaster, tagSlot } from './cluster-slots.ts';

describe('cluster slots', () => {
  it('hashes a tag to the slot Redis Cluster gives it (CLUSTER KEYSLOT)', () => {
    expect(tagSlot('somekey')).toBe(11058);
    expect(tagSlot('foo')).toBe(12182);
    expect(tagSlot('123456789')).toBe(0x31c3);
  });

  it('finds one tag for each master of a slot map, one that lands on it', () => {
    const owner = (slot: number) => (slot < 5461 ? 'a:1' : slot < 10923 ? 'b:2' : slot === 16383 ? 'd:4' : 'c:3');
    const slots = Array.from({ length: 16384 }, (_, slot) => [owner(slot), 'replica:9']);
    const tags = tagPerMaster({ slots });
    expect(tags.map((tag) => owner(tagSlot(tag))).sort()).toEqual(['a:1', 'b:2', 'c:3', 'd:4']);
  });
});
