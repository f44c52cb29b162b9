import type { RedisClient } from '../../storage/redis.ts';
import { fingerprints, type FingerprintOptions } from './replay-fingerprint.ts';

export interface ReplayOptions {
  /** VIGIL_CV_REPLAY_DETECTION */
  enabled: boolean;
  /** Quantisation step of a fingerprint's centred block means (VIGIL_CV_REPLAY_QUANTUM). */
  quantum: number;
  /** A window is a replay when at least this share of its kept shingles is known (and at least two are). */
  matchShare: number;
  /** How long remembered stream fingerprints live, seconds. */
  ttlSeconds: number;
}

const indexKey = (userId: string) => `replay:shape:${userId}`;
/** Where fingerprints of exact sample values were kept before: they match nothing now and go on erasure. */
const formerKey = (userId: string) => `replay:${userId}`;
/** Shingles with less motion than this share of the quantum are skipped (measured with `npm run eval:replay`). */
export const MIN_MOTION_QUANTA = 1;
/** A window is a replay when this share of its kept fingerprints (and at least two) is known. */
export const MATCH_SHARE = 0.5;
/** An account's index stops growing here (about 4 MB of Redis): enough for a long enrolment and weeks of streams. */
const MAX_ENTRIES = 250_000;

/** A window repeats known data when at least two of its fingerprints, and `matchShare` of them, are known. */
export function repeatsKnown(known: ReadonlySet<number>, hashes: readonly number[], matchShare: number): boolean {
  if (hashes.length < 2) return false;
  let hits = 0;
  for (const h of hashes) if (known.has(h)) hits++;
  return hits >= 2 && hits >= matchShare * hashes.length;
}

/** What one socket holds of its account's fingerprints: known ones, and the ones it adds. */
export class ReplayIndex {
  private pending: number[] = [];

  constructor(
    private readonly known: Set<number>,
    private readonly owner: ReplayIndexes,
    private readonly userId: string,
  ) {}

  /** True when the window repeats data the account sent before (enrolment or an earlier stream). */
  isReplay(hashes: readonly number[]): boolean {
    return repeatsKnown(this.known, hashes, this.owner.options.matchShare);
  }

  /** A window the account just sent: from now on it is "before" (for this socket at once, for others once stored). */
  remember(hashes: readonly number[]): void {
    if (this.known.size >= MAX_ENTRIES) return;
    for (const h of hashes) {
      if (!this.known.has(h)) {
        this.known.add(h);
        this.pending.push(h);
      }
    }
    if (this.pending.length >= 64) this.flush();
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.owner.store(this.userId, batch);
  }
}

/**
 * The account's fingerprints in Redis (a set per account): enrolment data is added as it is
 * appended, stream windows as they are scored. Fingerprints are 32-bit hashes of the quantised
 * shape of sample runs, not samples; they are erased with the model and the account.
 */
export class ReplayIndexes {
  private readonly shape: FingerprintOptions;

  constructor(
    private readonly redis: RedisClient,
    readonly options: ReplayOptions,
    private readonly onError: (err: unknown) => void,
  ) {
    this.shape = { quantum: options.quantum, minMotion: options.quantum * MIN_MOTION_QUANTA };
  }

  get enabled(): boolean {
    return this.options.enabled;
  }

  /** The account's index as of now, for one socket. */
  async load(userId: string): Promise<ReplayIndex> {
    const members = this.options.enabled ? await this.redis.smembers(indexKey(userId)) : [];
    return new ReplayIndex(new Set(members.map(Number)), this, userId);
  }

  /** Enrolment data (rows in the enrolment's channel order): whatever is enrolled must not come back as a stream. */
  async addRecording(userId: string, data: Float32Array, rows: number, channels: number): Promise<void> {
    if (!this.options.enabled) return;
    const hashes = fingerprints(data, rows, channels, this.shape);
    for (let at = 0; at < hashes.length; at += 10_000) {
      await this.redis.sadd(indexKey(userId), ...hashes.slice(at, at + 10_000));
    }
  }

  fingerprint(values: Float32Array, rows: number, channels: number, rowAt: (i: number) => number): number[] {
    return fingerprints(values, rows, channels, this.shape, rowAt);
  }

  store(userId: string, hashes: number[]): void {
    const key = indexKey(userId);
    this.redis
      .multi()
      .sadd(key, ...hashes)
      .expire(key, this.options.ttlSeconds)
      .exec()
      .catch(this.onError);
  }

  /** Withdrawal and model deletion: the fingerprints go with the data. */
  async erase(userId: string): Promise<void> {
    // One key per command: on a cluster the two keys may live in different slots.
    await Promise.all([this.redis.del(indexKey(userId)), this.redis.del(formerKey(userId))]);
  }
}
