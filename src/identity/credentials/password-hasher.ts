import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import bcrypt from 'bcrypt';
import { VigilError } from '../../../protocol/errors.ts';
import { BCRYPT_MAX_BYTES } from './password-policy.ts';

/** Anything with an optional password hash: an account, or nothing at all. */
export interface HasPasswordHash {
  passwordHash?: string;
}

/** libuv's thread pool size: UV_THREADPOOL_SIZE when set (libuv clamps it to 1–1024), else libuv's default 4. */
export function libuvPoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const size = Math.trunc(Number(env.UV_THREADPOOL_SIZE));
  return Number.isFinite(size) && size >= 1 ? Math.min(size, 1024) : 4;
}

/**
 * bcrypt calls allowed on the libuv pool at once (VIGIL_BCRYPT_CONCURRENCY). `auto`: one pool
 * thread fewer than the pool has, so WebCrypto (token signing and verification) and file I/O always
 * find a free thread, and one fewer than the cores, so the event loop keeps a core while a login
 * storm hashes; at least 1. On 2 cores that is 1: a storm's logins wait their turn here, while
 * introspection and socket connects stay as fast as without it (docs/benchmarks.md, login storm).
 */
export function bcryptConcurrency(setting: string, poolSize: number, cores: number = availableParallelism()): number {
  if (setting !== 'auto') return Number(setting);
  return Math.max(1, Math.min(poolSize - 1, cores - 1));
}

/**
 * bcrypt hashing and verification. bcrypt's async API runs on the libuv pool, never the event
 * loop. `verify` spends the same bcrypt time whether or not the account exists or has a password,
 * so response timing does not reveal which identifiers are registered.
 *
 * At most `concurrency` bcrypt calls are on the pool at once; the rest wait here, in order. The
 * pool is one FIFO queue shared with WebCrypto: without this, a burst of logins queues its
 * comparisons ahead of every access-token verification and signature, and a socket connect or an
 * introspection of a token seen for the first time waits for all of them (seconds under a storm).
 * At most `maxWaiting` calls wait: past that a call is refused at once (503, Retry-After) rather
 * than queued behind seconds of hashing its client will not wait for, and memory stays bounded
 * whatever a storm from many addresses sends. Known and unknown accounts queue alike.
 */
export class PasswordHasher {
  private dummyHash: Promise<string>;
  private active = 0;
  private readonly queue: Array<() => void> = [];

  constructor(
    readonly cost: number,
    readonly concurrency: number = bcryptConcurrency('auto', libuvPoolSize()),
    readonly maxWaiting = Number.POSITIVE_INFINITY,
  ) {
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw new RangeError(`concurrency must be an integer ≥ 1 (got ${concurrency})`);
    if (!(maxWaiting >= 0)) throw new RangeError(`maxWaiting must be ≥ 0 (got ${maxWaiting})`);
    // A hash of a random secret at the configured cost: comparing against it costs exactly what a
    // real comparison costs and can never succeed.
    this.dummyHash = this.slot(() => bcrypt.hash(randomBytes(16).toString('base64'), cost));
  }

  /** bcrypt calls on the pool now, and calls waiting for a slot. */
  get load(): { running: number; waiting: number } {
    return { running: this.active, waiting: this.queue.length };
  }

  hash(password: string): Promise<string> {
    return this.slot(() => bcrypt.hash(password, this.cost));
  }

  private async slot<T>(work: () => Promise<T>): Promise<T> {
    if (this.active < this.concurrency) this.active++;
    else if (this.queue.length >= this.maxWaiting) throw busy();
    else await new Promise<void>((resolve) => this.queue.push(resolve));
    try {
      return await work();
    } finally {
      // A waiting call takes the slot over directly, so a newcomer cannot overtake it.
      const next = this.queue.shift();
      if (next) next();
      else this.active--;
    }
  }

  /**
   * True only when `account` has a password and `password` matches it. A null account, an account
   * without a password, or a password over 72 bytes (bcrypt would ignore the tail) all cost one
   * full bcrypt comparison and return false.
   */
  async verifyPassword(account: HasPasswordHash | null | undefined, password: string): Promise<boolean> {
    const hash = account?.passwordHash;
    const usable = hash !== undefined && Buffer.byteLength(password, 'utf8') <= BCRYPT_MAX_BYTES;
    const against = usable ? hash : await this.dummyHash;
    const matched = await this.slot(() => bcrypt.compare(password, against));
    return usable && matched;
  }

  /** Whether a stored hash was made with a lower cost than configured (rehash after a login). */
  needsRehash(hash: string): boolean {
    return bcrypt.getRounds(hash) < this.cost;
  }
}

function busy(): VigilError {
  return new VigilError('DEPENDENCY_UNAVAILABLE', { dependency: 'password checking' }, { headers: { 'retry-after': '1' } });
}
