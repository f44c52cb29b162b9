import { hash } from 'node:crypto';
import { systemClock, type Clock } from '../time/clock.ts';

/** What a cached verification must carry so the cache can expire and revoke it. */
export interface CacheableVerification {
  sessionId: string;
  /** Epoch seconds; the entry is dropped at this moment (token expiry, or its key's retirement). */
  validUntil: number;
}

/**
 * Verified access tokens by SHA-256 of the token, until the token expires or its session is
 * revoked. Socket upgrades and introspection verify the same tokens over and over; a hit skips
 * the Ed25519 verify and the Redis session check.
 *
 * Revocation-aware: `revokeSessions` drops every entry of a session and remembers the session
 * for as long as any of its tokens could live, so a verification that read "session alive"
 * just before the revocation cannot put a stale entry back afterwards.
 */
export class VerifiedTokenCache<V extends CacheableVerification> {
  private readonly entries = new Map<string, V>();
  private readonly bySession = new Map<string, Set<string>>();
  /** Revoked session → epoch ms until which entries for it are refused. */
  private readonly revoked = new Map<string, number>();

  constructor(
    private readonly maxEntries: number,
    /** How long a revoked session is remembered: the longest an access token lives. */
    private readonly tombstoneMs: number,
    private readonly clock: Clock = systemClock,
  ) {}

  // One-shot hash: no Hash object per lookup (every socket upgrade and introspection passes here).
  static keyOf(token: string): string {
    return hash('sha256', token, 'base64url');
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string, nowSeconds = this.clock.now() / 1000): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.validUntil <= nowSeconds) {
      this.delete(key, entry);
      return undefined;
    }
    return entry;
  }

  set(key: string, value: V): void {
    if (this.maxEntries === 0) return;
    const until = this.revoked.get(value.sessionId);
    if (until !== undefined) {
      if (until > this.clock.now()) return;
      this.revoked.delete(value.sessionId);
    }
    if (this.entries.size >= this.maxEntries) this.evictOldest();
    this.entries.set(key, value);
    let keys = this.bySession.get(value.sessionId);
    if (!keys) this.bySession.set(value.sessionId, (keys = new Set()));
    keys.add(key);
  }

  revokeSessions(sessionIds: readonly string[]): void {
    const until = this.clock.now() + this.tombstoneMs;
    for (const sessionId of sessionIds) {
      this.revoked.set(sessionId, until);
      for (const key of this.bySession.get(sessionId) ?? []) this.entries.delete(key);
      this.bySession.delete(sessionId);
    }
    if (this.revoked.size > 10_000) this.pruneTombstones();
  }

  /** Forgets every entry (keys rotated, or revocations may have been missed). Tombstones stay. */
  clear(): void {
    this.entries.clear();
    this.bySession.clear();
  }

  private delete(key: string, entry: V): void {
    this.entries.delete(key);
    const keys = this.bySession.get(entry.sessionId);
    keys?.delete(key);
    if (keys?.size === 0) this.bySession.delete(entry.sessionId);
  }

  // Maps iterate in insertion order: the first entry is the oldest. A verification that is still
  // wanted is simply verified and cached again.
  private evictOldest(): void {
    const first = this.entries.entries().next();
    if (!first.done) this.delete(first.value[0], first.value[1]);
  }

  private pruneTombstones(): void {
    const now = this.clock.now();
    for (const [sessionId, until] of this.revoked) if (until <= now) this.revoked.delete(sessionId);
  }
}
