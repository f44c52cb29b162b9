import { describe, expect, it } from 'vitest';
import { SessionCache } from './session-cache.ts';

describe('SessionCache', () => {
  it('evicts and releases the least recently used entry beyond capacity', async () => {
    const released: string[] = [];
    const cache = new SessionCache<string>(2, (v) => void released.push(v));
    await cache.get('a', async () => 'A');
    await cache.get('b', async () => 'B');
    await cache.get('a', async () => 'A2'); // touch a: b is now the oldest
    await cache.get('c', async () => 'C');
    await Promise.resolve();
    expect(released).toEqual(['B']);
    expect(cache.has('a')).toBe(true);
    expect(cache.has('b')).toBe(false);
    expect(await cache.get('a', async () => 'never')).toBe('A');
  });

  it('shares one creation between concurrent gets and forgets failures', async () => {
    let created = 0;
    const cache = new SessionCache<number>(4, () => {});
    const make = async () => ++created;
    const [x, y] = await Promise.all([cache.get('k', make), cache.get('k', make)]);
    expect([x, y, created]).toEqual([1, 1, 1]);
    await expect(cache.get('bad', async () => Promise.reject(new Error('no')))).rejects.toThrow('no');
    await Promise.resolve();
    expect(cache.has('bad')).toBe(false);
    expect(await cache.get('bad', async () => 7)).toBe(7);
  });

  it('rejects a capacity that is not a positive integer', () => {
    expect(() => new SessionCache(0, () => {})).toThrow('capacity must be a positive integer, got 0');
  });
});
