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

/**
 * Adds fingerprints to an account's index until it holds ARGV[1] (within one chunk of 5,000: the
 * cap holds across sockets and processes) and keeps it ARGV[2] seconds more. ARGV[3…]: the fingerprints.
 */
const STORE = `
local added = 0
for i = 3, #ARGV, 5000 do
  if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[1]) then break end
  added = added + redis.call('SADD', KEYS[1], unpack(ARGV, i, math.min(i + 4999, #ARGV)))
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return added
`;

interface StoreCommands {
  vigilReplayStore(key: string, cap: number, ttlSeconds: number, ...hashes: number[]): Promise<number>;
}

const enoughKnown = (hits: number, count: number, matchShare: number) => hits >= 2 && hits >= matchShare * count;

/** A window repeats known data when at least two of its fingerprints, and `matchShare` of them, are known. */
export function repeatsKnown(known: ReadonlySet<number>, hashes: readonly number[], matchShare: number): boolean {
  if (hashes.length < 2) return false;
  let hits = 0;
  for (const h of hashes) if (known.has(h)) hits++;
  return enoughKnown(hits, hashes.length, matchShare);
}

/**
 * One socket's view of its account's fingerprints. Windows are checked against the account's set in
 * Redis as it stands when they arrive, not a copy read when the socket opened: a socket parked
 * before the owner streamed a recording must still recognise it, and no socket holds (nor reads at
 * every connection) an index of up to `MAX_ENTRIES`. What this socket added is also held here, so
 * that its later windows know it before it is stored.
 */
export class ReplayIndex {
  private pending: number[] = [];
  /** This socket's own fingerprints (at most `MAX_ENTRIES`). */
  private readonly known = new Set<number>();

  constructor(
    private readonly owner: ReplayIndexes,
    private readonly userId: string,
  ) {}

  /**
   * True when the window repeats data the account sent before (enrolment or an earlier stream, of
   * any socket). Never rejects: with Redis away, only this socket's own fingerprints count.
   */
  async isReplay(hashes: readonly number[]): Promise<boolean> {
    if (hashes.length < 2) return false;
    const unknown = hashes.filter((h) => !this.known.has(h));
    const stored = unknown.length > 0 ? await this.owner.members(this.userId, unknown) : 0;
    return enoughKnown(hashes.length - unknown.length + stored, hashes.length, this.owner.options.matchShare);
  }

  /** A window the account just sent: from now on it is "before" (for this socket at once, for others once stored). */
  remember(hashes: readonly number[]): void {
    for (const h of hashes) {
      if (this.known.size >= MAX_ENTRIES) break;
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

  private readonly commands: StoreCommands;

  constructor(
    private readonly redis: RedisClient,
    readonly options: ReplayOptions,
    private readonly onError: (err: unknown) => void,
  ) {
    this.shape = { quantum: options.quantum, minMotion: options.quantum * MIN_MOTION_QUANTA };
    redis.defineCommand('vigilReplayStore', { numberOfKeys: 1, lua: STORE });
    this.commands = redis as unknown as StoreCommands;
  }

  get enabled(): boolean {
    return this.options.enabled;
  }

  /** One socket's view of the account's index. */
  open(userId: string): ReplayIndex {
    return new ReplayIndex(this, userId);
  }

  /** How many of `hashes` the account's index holds; 0 when Redis cannot answer. */
  async members(userId: string, hashes: readonly number[]): Promise<number> {
    try {
      const found = await this.redis.smismember(indexKey(userId), ...hashes);
      return found.reduce((sum, one) => sum + one, 0);
    } catch (err) {
      this.onError(err);
      return 0;
    }
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

  /** Adds a socket's fingerprints while the account's index holds fewer than `MAX_ENTRIES`. */
  store(userId: string, hashes: number[]): void {
    this.commands.vigilReplayStore(indexKey(userId), MAX_ENTRIES, this.options.ttlSeconds, ...hashes).catch(this.onError);
  }

  /** Withdrawal and model deletion: the fingerprints go with the data. */
  async erase(userId: string): Promise<void> {
    // One key per command: on a cluster the two keys may live in different slots.
    await Promise.all([this.redis.del(indexKey(userId)), this.redis.del(formerKey(userId))]);
  }
}
