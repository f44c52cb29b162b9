import { randomBytes } from 'node:crypto';
import bcrypt from 'bcrypt';
import { BCRYPT_MAX_BYTES } from './password-policy.ts';

/** Anything with an optional password hash: an account, or nothing at all. */
export interface HasPasswordHash {
  passwordHash?: string;
}

/**
 * bcrypt hashing and verification. bcrypt's async API runs on the libuv pool, never the event
 * loop. `verify` spends the same bcrypt time whether or not the account exists or has a password,
 * so response timing does not reveal which identifiers are registered.
 */
export class PasswordHasher {
  private dummyHash: Promise<string>;

  constructor(readonly cost: number) {
    // A hash of a random secret at the configured cost: comparing against it costs exactly what a
    // real comparison costs and can never succeed.
    this.dummyHash = bcrypt.hash(randomBytes(16).toString('base64'), cost);
  }

  hash(password: string): Promise<string> {
    return bcrypt.hash(password, this.cost);
  }

  /**
   * True only when `account` has a password and `password` matches it. A null account, an account
   * without a password, or a password over 72 bytes (bcrypt would ignore the tail) all cost one
   * full bcrypt comparison and return false.
   */
  async verifyPassword(account: HasPasswordHash | null | undefined, password: string): Promise<boolean> {
    const hash = account?.passwordHash;
    const usable = hash !== undefined && Buffer.byteLength(password, 'utf8') <= BCRYPT_MAX_BYTES;
    const matched = await bcrypt.compare(password, usable ? hash : await this.dummyHash);
    return usable && matched;
  }

  /** Whether a stored hash was made with a lower cost than configured (rehash after a login). */
  needsRehash(hash: string): boolean {
    return bcrypt.getRounds(hash) < this.cost;
  }
}
