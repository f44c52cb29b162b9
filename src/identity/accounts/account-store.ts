import type { Collection, Db, Filter, UpdateFilter } from 'mongodb';
import type { RedisClient } from '../../storage/redis.ts';
import { isDuplicateKey } from '../../storage/mongo.ts';
import type { Account, AccountStatus } from './account.ts';
import type { IdentifierKind } from './identifiers.ts';

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

export function toAccount(doc: AccountDocument): Account {
  const { _id, seq, usernameKey: _key, ...rest } = doc;
  return { id: _id, number: seq, ...rest };
}

/** Mongo access for accounts. Uniqueness lives in sparse unique indexes, never in check-then-insert. */
export class AccountStore {
  readonly collection: Collection<AccountDocument>;

  constructor(
    db: Db,
    private readonly redis: RedisClient,
  ) {
    this.collection = db.collection<AccountDocument>('accounts');
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

  async insert(doc: AccountDocument): Promise<void> {
    await this.collection.insertOne(doc);
  }

  async findById(id: string): Promise<Account | null> {
    const doc = await this.collection.findOne({ _id: id });
    return doc ? toAccount(doc) : null;
  }

  async findByNumber(number: number): Promise<Account | null> {
    const doc = await this.collection.findOne({ seq: number });
    return doc ? toAccount(doc) : null;
  }

  /** `value` must already be normalised (username key, lower-case email, E.164 phone). */
  async findBy(kind: IdentifierKind, value: string): Promise<Account | null> {
    const doc = await this.collection.findOne({ [FIELD[kind]]: value } as Filter<AccountDocument>);
    return doc ? toAccount(doc) : null;
  }

  async exists(kind: IdentifierKind, value: string): Promise<boolean> {
    return (await this.collection.countDocuments({ [FIELD[kind]]: value }, { limit: 1 })) > 0;
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
    const doc = await this.collection.findOneAndUpdate({ ...expect, _id: id }, update, { returnDocument: 'after' });
    return doc ? toAccount(doc) : null;
  }

  /** The stored field name of an identifier (for building updates). */
  static field(kind: IdentifierKind): 'usernameKey' | 'email' | 'phone' {
    return FIELD[kind];
  }
}

interface SequenceCommands {
  vigilRaiseSequence(key: string, atLeast: number): Promise<unknown>;
}
