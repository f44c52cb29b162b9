import type { Collection, Db } from 'mongodb';
import { insertUnique } from '../../storage/mongo.ts';
import type { IdentifierKind } from './identifiers.ts';

/**
 * Which account holds an identifier (collection `account_identifiers`, `_id` = `<kind>:<normalised
 * value>`). FerretDB v1 scans a collection for every filter not on `_id`, so a login by username,
 * email or phone reads this by `_id` and then the account by `_id`. Authoritative, not a cache:
 * an unknown identifier costs the same two `_id` reads as a known one (no timing oracle), and the
 * `_id` makes a claim unique, so of two sign-ups of one identifier only one inserts its claim.
 *
 * A claim is written before an account takes the identifier and removed only after the account
 * has let it go, so an account holding an identifier always has its claim (no login is lost). A
 * claim whose account does not hold the identifier belongs to a writer still between the two steps
 * or is left over from one that died there. Logins ignore it. While its writer holds the account's
 * write lease (at most CLAIM_GRACE_MS) sign-up and availability both count the identifier taken;
 * after that another account takes the claim over at once. The accounts' unique indexes stay as a
 * second guarantee.
 */
export interface IdentifierClaim {
  _id: string;
  userId: string;
  claimedAt: Date;
}

/**
 * Most a claim whose account does not hold the identifier may count as a live writer's (claim, then
 * account write: two `_id` writes, bcrypt is done before), even with its write lease still held.
 */
export const CLAIM_GRACE_MS = 60_000;

export function claimKey(kind: IdentifierKind, value: string): string {
  return `${kind}:${value}`;
}

/**
 * Conditional deletes read by `_id` and check here: FerretDB v1 uses the `_id` only for a filter that
 * is nothing else (`{ _id, userId }` scans every claim), and its own filtered delete is the same
 * read, check and delete without a lock.
 */
export class IdentifierClaims {
  readonly collection: Collection<IdentifierClaim>;

  constructor(db: Db) {
    this.collection = db.collection<IdentifierClaim>('account_identifiers');
  }

  get(kind: IdentifierKind, value: string): Promise<IdentifierClaim | null> {
    return this.collection.findOne({ _id: claimKey(kind, value) });
  }

  /**
   * `get` for a login or an availability check, which must cost the same for a taken and a free
   * identifier. FerretDB v1's SQLite backend does not use its `_id` index (its query's expression
   * is not the index's), so a read that stops at the first match (`findOne`) ends early on a hit
   * and scans everything on a miss. Reading every match (at most one) scans everything either way
   * there; MongoDB answers both from the `_id` index.
   */
  async lookup(kind: IdentifierKind, value: string): Promise<IdentifierClaim | null> {
    return (await this.collection.find({ _id: claimKey(kind, value) }).toArray())[0] ?? null;
  }

  /**
   * Inserts the claim. When the `_id` is taken: the claim already there (possibly this account's
   * own), or null when it went away between the insert and the read (try again).
   */
  async insert(
    kind: IdentifierKind,
    value: string,
    userId: string,
    now = new Date(),
  ): Promise<IdentifierClaim | 'claimed' | null> {
    const _id = claimKey(kind, value);
    if (await insertUnique(this.collection, { _id, userId, claimedAt: now })) return 'claimed';
    return this.collection.findOne({ _id });
  }

  /** Removes a claim only while it is still that account's (never another's that took it over). */
  release(kind: IdentifierKind, value: string, userId: string): Promise<void> {
    return this.deleteIf(claimKey(kind, value), (now) => now.userId === userId);
  }

  /** Removes exactly the leftover claim that was judged stale (not a newer one written since). */
  dropStale(claim: IdentifierClaim): Promise<void> {
    return this.deleteIf(
      claim._id,
      (now) => now.userId === claim.userId && now.claimedAt.getTime() === claim.claimedAt.getTime(),
    );
  }

  private async deleteIf(_id: string, still: (claim: IdentifierClaim) => boolean): Promise<void> {
    const now = await this.collection.findOne({ _id });
    if (now && still(now)) await this.collection.deleteOne({ _id });
  }
}
