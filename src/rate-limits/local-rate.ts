import { rateLimited } from './enforce-limit.ts';

/**
 * Per-second counters kept in this process, for hot endpoints where a Redis round trip per call
 * would cost more than the work it guards (token introspection verifies a signature in
 * microseconds). Each gateway process counts on its own, so N processes allow N times the limit.
 */
export class LocalRateLimit {
  private readonly counts = new Map<string, { second: number; count: number }>();

  constructor(private readonly perSecond: number) {}

  /** Counts a hit for `key`; throws RATE_LIMITED (Retry-After: 1) past the limit. */
  hit(key: string, now = Date.now()): void {
    const second = Math.floor(now / 1000);
    let entry = this.counts.get(key);
    if (!entry || entry.second !== second) {
      // Forget last second's keys now and then, so a stream of new addresses cannot grow the map.
      if (this.counts.size > 10_000) for (const [k, e] of this.counts) if (e.second !== second) this.counts.delete(k);
      entry = { second, count: 0 };
      this.counts.set(key, entry);
    }
    if (++entry.count > this.perSecond) {
      throw rateLimited(1);
    }
  }
}
