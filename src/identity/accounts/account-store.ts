import type { Collection, Db, Filter, UpdateFilter } from 'mongodb';
import type { RedisClient } from '../../storage/redis.ts';
import { insertBatched, isDuplicateKey } from '../../storage/mongo.ts';
import type { Account, AccountStatus } from './account.ts';
import { IDENTIFIER_KINDS, type IdentifierKind } from './identifiers.ts';
import { AccountWriteLease } from './account-write-lease.ts';
import { CLAIM_GRACE_MS, IdentifierClaims, claimKey, type IdentifierClaim } from './identifier-claims.ts';

/** Stored shape: `_id` is the account id, `seq` its number, `usernameKey` the unique folded username. */
export interface AccountDocument extends Omit<Account, 'id' | 'number'> {
  _id: string;
  seq: number;
  usernameKey?: string;
}

/** The indexed field behind each identifier. */
const FIELD: Record<IdentifierKind, 'usernameKey' | 'email' | 'phone'> = {
  username: 'usernameKey',
  email: 'email',
  phone: 'phone',
};

const SEQUENCE_KEY = 'accounts:seq';
// Raises the counter to at least ARGV[1] (never lowers it), so a Redis that lost the key cannot
// hand out numbers already used in Mongo.
const RAISE = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
`;

/**
 * A unique index refused the write. Inserts report 11000; FerretDB v1 reports update collisions
 * as a generic error naming the SQLite constraint, so that is recognised too.
 */
export function isUniqueViolation(err: unknown): boolean {
  if (isDuplicateKey(err)) return true;
  return err instanceof Error && err.name === 'MongoServerError' && /UNIQUE constraint failed|duplicate key/i.test(err.message);
}

/** Some identifiers are held by other accounts (or being claimed right now). */
export class IdentifiersTaken extends Error {
  override readonly name = 'IdentifiersTaken';
  constructor(readonly kinds: IdentifierKind[]) {
    super(`taken: ${kinds.join(', ')}`);
  }
}

/** An account's normalised identifiers, by kind. */
export type IdentifierValues = Partial<Record<IdentifierKind, string>>;

/** Read for an identifier nobody holds, so a miss makes the same two reads as a hit. */
const NO_ACCOUNT = '\u0000none';

function entriesOf(ids: IdentifierValues): Array<[IdentifierKind, string]> {
  return Object.entries(ids) as Array<[IdentifierKind, string]>;
}

function identifiersOf(doc: Pick<AccountDocument, 'usernameKey' | 'email' | 'phone'>): IdentifierValues {
  const ids: IdentifierValues = {};
  for (const kind of IDENTIFIER_KINDS) {
    const value = doc[FIELD[kind]];
    if (value !== undefined) ids[kind] = value;
  }
  return ids;
}

export function toAccount(doc: AccountDocument): Account {
  const { _id, seq, usernameKey: _key, ...rest } = doc;
  return { id: _id, number: seq, ...rest };
}

/** Mongo access for accounts. Uniqueness lives in sparse unique indexes, never in check-then-insert. */
export class AccountStore {
  readonly collection: Collection<AccountDocument>;
  readonly claims: IdentifierClaims;
  /** Every update of an existing account holds it (FerretDB's updates are read-modify-write). */
  private readonly lease: AccountWriteLease;

  constructor(
    db: Db,
    private readonly redis: RedisClient,
  ) {
    this.collection = db.collection<AccountDocument>('accounts');
    this.claims = new IdentifierClaims(db);
    this.lease = new AccountWriteLease(redis);
    redis.defineCommand('vigilRaiseSequence', { numberOfKeys: 1, lua: RAISE });
  }

  async ensureIndexes(): Promise<void> {
    // Sparse: accounts without that identifier are not indexed (FerretDB v1 has no partial indexes).
    await this.collection.createIndex({ usernameKey: 1 }, { unique: true, sparse: true, name: 'username_unique' });
    await this.collection.createIndex({ email: 1 }, { unique: true, sparse: true, name: 'email_unique' });
    await this.collection.createIndex({ phone: 1 }, { unique: true, sparse: true, name: 'phone_unique' });
    await this.collection.createIndex({ seq: 1 }, { unique: true, name: 'seq_unique' });
    await this.collection.createIndex({ status: 1, seq: 1 }, { name: 'status_seq' });
    await this.syncSequence();
    await this.backfillClaims();
  }

  /**
   * Claims for accounts stored before claims existed (or whose claim a crash lost, or which an
   * older gateway wrote): one scan of each collection at start-up, writing only what is missing,
   * so it is safe to run again and beside gateways already serving.
   */
  async backfillClaims(): Promise<number> {
    const have = new Set<string>();
    for await (const claim of this.claims.collection.find({}, { projection: { userId: 1 } }))
      have.add(`${claim._id}\u0000${claim.userId}`);
    const missing: Array<{ userId: string; kind: IdentifierKind; value: string }> = [];
    const cursor = this.collection.find({ status: { $ne: 'withdrawn' } }, { projection: { usernameKey: 1, email: 1, phone: 1 } });
    for await (const doc of cursor) {
      for (const [kind, value] of entriesOf(identifiersOf(doc))) {
        if (!have.has(`${claimKey(kind, value)}\u0000${doc._id}`)) missing.push({ userId: doc._id, kind, value });
      }
    }
    // In batches (an upgrade writes one claim per identifier of every account); a claim someone
    // wrote meanwhile goes the careful way.
    const now = new Date();
    const byKey = new Map(missing.map((m) => [claimKey(m.kind, m.value), m]));
    const { written, duplicates } = await insertBatched(
      this.claims.collection,
      missing.map(({ userId, kind, value }) => ({ _id: claimKey(kind, value), userId, claimedAt: now })),
    );
    let claimed = written;
    for (const { _id } of duplicates) {
      const { userId, kind, value } = byKey.get(_id)!;
      // The account holds the identifier (its unique index says no other does): a claim naming
      // anyone else is a leftover, so the grace period does not apply.
      if ((await this.claim(userId, kind, value, 0)) === 'claimed') claimed++;
    }
    return claimed;
  }

  /** Brings the Redis counter up to the highest number in Mongo. */
  async syncSequence(): Promise<void> {
    const [last] = await this.collection
      .find({}, { projection: { seq: 1 } })
      .sort({ seq: -1 })
      .limit(1)
      .toArray();
    await (this.redis as unknown as SequenceCommands).vigilRaiseSequence(SEQUENCE_KEY, last?.seq ?? 0);
  }

  async nextNumber(): Promise<number> {
    return this.redis.incr(SEQUENCE_KEY);
  }

  /**
   * Claims the account's identifiers, then inserts it. IdentifiersTaken when another account holds
   * (or is claiming) one; any other refusal releases the claims and is rethrown.
   */
  async insert(doc: AccountDocument): Promise<void> {
    const ids = identifiersOf(doc);
    // The lease tells other sign-ups that these claims have a live writer (see `claim`).
    await this.lease.hold(doc._id, async () => {
      await this.claimAll(doc._id, ids);
      try {
        await this.collection.insertOne(doc);
      } catch (err) {
        await this.releaseAll(doc._id, ids);
        throw err;
      }
      await this.confirmClaims(doc._id, ids);
    });
  }

  /**
   * After the account took its identifiers: each claim must be its own. FerretDB deletes by reading
   * then deleting by `_id`, so two takers of one leftover claim can both believe they got it; the
   * accounts' unique index then lets only one account hold the identifier, and that account must
   * not be left without its claim (a login lost).
   */
  private async confirmClaims(userId: string, ids: IdentifierValues): Promise<void> {
    for (const [kind, value] of entriesOf(ids)) {
      if ((await this.claims.get(kind, value))?.userId !== userId) await this.claim(userId, kind, value, 0);
    }
  }

  /** Claims every identifier or none: on a refusal the ones already claimed are released. */
  async claimAll(userId: string, ids: IdentifierValues): Promise<void> {
    const claimed: IdentifierValues = {};
    const taken: IdentifierKind[] = [];
    for (const [kind, value] of entriesOf(ids)) {
      const outcome = await this.claim(userId, kind, value);
      if (outcome === 'claimed') claimed[kind] = value;
      else if (outcome === 'taken') taken.push(kind);
    }
    if (taken.length > 0) {
      await this.releaseAll(userId, claimed);
      throw new IdentifiersTaken(taken);
    }
  }

  async releaseAll(userId: string, ids: IdentifierValues): Promise<void> {
    for (const [kind, value] of entriesOf(ids)) await this.claims.release(kind, value, userId);
  }

  /**
   * One claim: 'claimed' when this call wrote it, 'already' when it was this account's before (not
   * this call's to release on a failure), or 'taken' when another account holds the identifier or
   * is writing it now (`inFlight`, for claims younger than `graceMs`). Any other claim whose account
   * does not hold the identifier is a dead writer's leftover and is replaced at once.
   */
  private async claim(
    userId: string,
    kind: IdentifierKind,
    value: string,
    graceMs = CLAIM_GRACE_MS,
  ): Promise<'claimed' | 'already' | 'taken'> {
    for (let attempt = 0; attempt < 4; attempt++) {
      const now = new Date();
      const held = await this.claims.insert(kind, value, userId, now);
      if (held === 'claimed') return 'claimed';
      if (held === null) continue;
      if (held.userId === userId) return 'already';
      if (await this.holds(held, kind, value)) return 'taken';
      if (await this.inFlight(held, graceMs, now)) return 'taken';
      await this.claims.dropStale(held);
    }
    return 'taken';
  }

  /**
   * A claim its account does not hold (yet) whose writer is between its two steps: it holds the
   * account's write lease. A writer that died holds it only until the lease lapses, so a crash
   * between claim and account write blocks the identifier for seconds, not for the whole grace.
   */
  private async inFlight(claim: IdentifierClaim, graceMs = CLAIM_GRACE_MS, now = new Date()): Promise<boolean> {
    return now.getTime() - claim.claimedAt.getTime() < graceMs && (await this.lease.isHeld(claim.userId));
  }

  private async holds(claim: IdentifierClaim, kind: IdentifierKind, value: string): Promise<boolean> {
    const doc = await this.collection.findOne({ _id: claim.userId }, { projection: { [FIELD[kind]]: 1 } });
    return doc?.[FIELD[kind]] === value;
  }

  async findById(id: string): Promise<Account | null> {
    const doc = await this.collection.findOne({ _id: id });
    return doc ? toAccount(doc) : null;
  }

  /** Not hot (legacy recovery links and resets), so still a filtered read. */
  async findByNumber(number: number): Promise<Account | null> {
    const doc = await this.collection.findOne({ seq: number });
    return doc ? toAccount(doc) : null;
  }

  /**
   * `value` must already be normalised (username key, lower-case email, E.164 phone). The claim by
   * `_id`, then its account by `_id` — also when there is no claim, so known and unknown identifiers
   * cost alike. The account must still hold the identifier (a leftover claim names nobody).
   */
  async findBy(kind: IdentifierKind, value: string): Promise<Account | null> {
    const { doc } = await this.holder(kind, value);
    return doc ? toAccount(doc) : null;
  }

  async exists(kind: IdentifierKind, value: string): Promise<boolean> {
    return (await this.findBy(kind, value)) !== null;
  }

  /**
   * Whether a sign-up of the identifier would be refused now: an account holds it, or a writer is
   * claiming it (what `claim` answers 'taken' for). Availability says this, so it never calls free
   * what sign-up refuses.
   */
  async taken(kind: IdentifierKind, value: string): Promise<boolean> {
    const { claim, doc } = await this.holder(kind, value);
    return doc !== null || (claim !== null && (await this.inFlight(claim)));
  }

  /** The claim by `_id`, then its account by `_id` (also without a claim: see `findBy`); the account only if it holds the identifier. */
  private async holder(
    kind: IdentifierKind,
    value: string,
  ): Promise<{ claim: IdentifierClaim | null; doc: AccountDocument | null }> {
    const claim = await this.claims.lookup(kind, value);
    // Every match, not the first: a hit then costs what a miss costs on FerretDB (IdentifierClaims.lookup).
    const [doc] = await this.collection.find({ _id: claim?.userId ?? NO_ACCOUNT }).toArray();
    return { claim, doc: doc && doc[FIELD[kind]] === value ? doc : null };
  }

  async listByStatus(status: AccountStatus | undefined, limit: number, after?: number): Promise<Account[]> {
    const filter: Filter<AccountDocument> = {};
    if (status) filter.status = status;
    if (after !== undefined) filter.seq = { $gt: after };
    const docs = await this.collection.find(filter).sort({ seq: 1 }).limit(limit).toArray();
    return docs.map(toAccount);
  }

  /**
   * Applies an update when the account still matches `expect` (e.g. its status), returning the
   * updated account, or null when it is gone or no longer matches. FerretDB v1 updates are not
   * atomic across documents, but a single-document filter + update is what every caller needs.
   */
  async update(id: string, update: UpdateFilter<AccountDocument>, expect: Filter<AccountDocument> = {}): Promise<Account | null> {
    return this.lease.hold(id, () => this.updateHeld(id, update, expect));
  }

  /** `update` for a caller that already holds the account's lease. */
  private async updateHeld(
    id: string,
    update: UpdateFilter<AccountDocument>,
    expect: Filter<AccountDocument>,
  ): Promise<Account | null> {
    const doc = await this.collection.findOneAndUpdate({ ...expect, _id: id }, update, { returnDocument: 'after' });
    return doc ? toAccount(doc) : null;
  }

  /**
   * Gives the account a new username: the new name is claimed first, the account then moves from
   * exactly `from` (another change or a withdrawal meanwhile fails it), and only then is the old
   * name released. IdentifiersTaken when the name is someone else's; null when the account is gone,
   * withdrawn or changed meanwhile (the new claim is released).
   */
  async changeUsername(
    id: string,
    from: string | undefined,
    to: string,
    update: UpdateFilter<AccountDocument>,
  ): Promise<Account | null> {
    // The whole move holds the account's lease: a second rename of the same account (a double
    // submit) starts only after this one has claimed, moved and released.
    return this.lease.hold(id, async () => {
      const wrote = await this.claim(id, 'username', to);
      if (wrote === 'taken') throw new IdentifiersTaken(['username']);
      let updated: Account | null = null;
      try {
        updated = await this.updateHeld(id, update, {
          status: { $ne: 'withdrawn' },
          usernameKey: from === undefined ? { $exists: false } : from,
        });
      } finally {
        // Not moved (refused or failed): only a claim this call wrote is its to release.
        if (!updated && wrote === 'claimed') await this.claims.release('username', to, id);
      }
      if (!updated) return null;
      await this.confirmClaims(id, { username: to });
      if (from !== undefined && from !== to) await this.claims.release('username', from, id);
      return updated;
    });
  }

  /**
   * Applies the withdrawal's update (which removes every identifier), then releases the claims of
   * the identifiers the account held just before: free again as soon as the account let them go.
   */
  async withdraw(id: string, update: UpdateFilter<AccountDocument>): Promise<Account | null> {
    return this.lease.hold(id, async () => {
      const before = await this.collection.findOneAndUpdate({ _id: id }, update, { returnDocument: 'before' });
      if (!before) return null;
      await this.releaseAll(id, identifiersOf(before));
      return this.findById(id);
    });
  }

  /** The stored field name of an identifier (for building updates). */
  static field(kind: IdentifierKind): 'usernameKey' | 'email' | 'phone' {
    return FIELD[kind];
  }
}

interface SequenceCommands {
  vigilRaiseSequence(key: string, atLeast: number): Promise<unknown>;
}
