import { describe, expect, it } from 'vitest';
import { VerifiedTokenCache } from './verified-token-cache.ts';

const now = () => Date.now() / 1000;

describe('verified-token cache', () => {
  it('keys by the SHA-256 of the token, never the token itself', () => {
    const key = VerifiedTokenCache.keyOf('header.payload.signature');
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(key).not.toContain('payload');
  });

  it('answers until the entry is no longer valid', () => {
    const cache = new VerifiedTokenCache(10, 60_000);
    cache.set('a', { sessionId: 's1', validUntil: now() + 60 });
    cache.set('b', { sessionId: 's1', validUntil: now() - 1 });
    expect(cache.get('a')).toBeDefined();
    expect(cache.get('b')).toBeUndefined();
    expect(cache.size).toBe(1);
  });

  it('drops every entry of a revoked session and refuses to cache it again while tokens could live', () => {
    const cache = new VerifiedTokenCache(10, 60_000);
    cache.set('a', { sessionId: 's1', validUntil: now() + 60 });
    cache.set('b', { sessionId: 's1', validUntil: now() + 60 });
    cache.set('c', { sessionId: 's2', validUntil: now() + 60 });
    cache.revokeSessions(['s1']);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('c')).toBeDefined();
    // A verification that read "alive" just before the revocation finishes afterwards: not cached.
    cache.set('a', { sessionId: 's1', validUntil: now() + 60 });
    expect(cache.get('a')).toBeUndefined();
  });

  it('forgets the tombstone once no token of the session can still be valid', async () => {
    const cache = new VerifiedTokenCache(10, 20);
    cache.revokeSessions(['s1']);
    await new Promise((resolve) => setTimeout(resolve, 30));
    cache.set('a', { sessionId: 's1', validUntil: now() + 60 });
    expect(cache.get('a')).toBeDefined();
  });

  it('evicts the oldest entry when full, and caches nothing with size 0', () => {
    const cache = new VerifiedTokenCache(2, 60_000);
    cache.set('a', { sessionId: 's1', validUntil: now() + 60 });
    cache.set('b', { sessionId: 's2', validUntil: now() + 60 });
    cache.set('c', { sessionId: 's3', validUntil: now() + 60 });
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('c')).toBeDefined();
    expect(cache.size).toBe(2);
    const off = new VerifiedTokenCache(0, 60_000);
    off.set('a', { sessionId: 's1', validUntil: now() + 60 });
    expect(off.size).toBe(0);
  });

  it('clears everything on demand', () => {
    const cache = new VerifiedTokenCache(10, 60_000);
    cache.set('a', { sessionId: 's1', validUntil: now() + 60 });
    cache.clear();
    expect(cache.get('a')).toBeUndefined();
  });
});
