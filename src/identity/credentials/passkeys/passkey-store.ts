import type { Collection, Db } from 'mongodb';
import { insertUnique } from '../../../storage/mongo.ts';
import type { RedisClient } from '../../../storage/redis.ts';

// Moves a credential's highest counter forward and says whether it moved; never below the stored
// counter (ARGV[2]), so a lost key cannot let an old counter through. One script, so two assertions cannot both take one counter.
const ADVANCE = `
local current = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), tonumber(ARGV[2]))
if tonumber(ARGV[1]) <= current then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1
`;
/** How long Redis keeps a credential's counter after its last use; then the stored one serves. */
const COUNTER_SECONDS = 86_400;

interface CounterCommands {
  vigilPasskeyAdvance(key: string, counter: number, stored: number, seconds: number): Promise<number>;
}

/** One WebAuthn credential. The credential id is the `_id`: every assertion is looked up by it. */
export interface PasskeyDocument {
  _id: string; // credential id, base64url
  userId: string;
  name: string;
  /** COSE public key, base64url. */
  publicKey: string;
  counter: number;
  transports: string[];
  /** BE flag at registration: the authenticator may sync it. */
  backupEligible: boolean;
  /** BS flag as last seen. */
  backedUp: boolean;
  aaguid: string;
  createdAt: Date;
  lastUsedAt?: Date;
}

/**
 * Accounts that have ever registered a passkey (collection `passkey_holders`, `_id` = userId).
 * Every login asks whether the account has a second factor, and FerretDB v1 answers a count by
 * account with a scan of every passkey: this `_id` read lets the accounts that never had one (most)
 * skip it. Written before the passkey and never removed while the account lives, so it can only
 * err towards counting (a holder whose passkeys are all gone costs the scan, as before); an
 * account with a passkey and no marker would skip its second factor.
 */
interface PasskeyHolder {
  _id: string;
  since: Date;
}

/**
 * Passkeys in MongoDB. Uniqueness of a credential id is the `_id` itself, so two accounts can
 * never register the same credential (the second insert fails with 11000). Listing by account is
 * the only non-`_id` query (the account's passkey page and the login's "has a factor" check, the
 * latter only for accounts that ever had one).
 */
export class PasskeyStore {
  private readonly collection: Collection<PasskeyDocument>;
  private readonly holders: Collection<PasskeyHolder>;

  private readonly counters: CounterCommands;

  constructor(db: Db, redis: RedisClient) {
    redis.defineCommand('vigilPasskeyAdvance', { numberOfKeys: 1, lua: ADVANCE });
    this.counters = redis as unknown as CounterCommands;
    this.collection = db.collection<PasskeyDocument>('passkeys');
    this.holders = db.collection<PasskeyHolder>('passkey_holders');
  }

  async ensureIndexes(): Promise<void> {
    await this.collection.createIndex({ userId: 1 });
    await this.backfillHolders();
  }

  /** Markers for passkeys registered before markers existed: one scan at start-up, idempotent. */
  async backfillHolders(): Promise<void> {
    const done = new Set<string>();
    for await (const { userId } of this.collection.find({}, { projection: { userId: 1 } })) {
      if (done.has(userId)) continue;
      done.add(userId);
      await this.markHolder(userId);
    }
  }

  private async markHolder(userId: string): Promise<void> {
    await insertUnique(this.holders, { _id: userId, since: new Date() });
  }

  get(credentialId: string): Promise<PasskeyDocument | null> {
    return this.collection.findOne({ _id: credentialId });
  }

  list(userId: string): Promise<PasskeyDocument[]> {
    return this.collection.find({ userId }).sort({ createdAt: 1 }).toArray();
  }

  async count(userId: string): Promise<number> {
    if (!(await this.holders.findOne({ _id: userId }))) return 0;
    return this.collection.countDocuments({ userId });
  }

  /** False when the credential id is already registered (to anyone). */
  async insert(doc: PasskeyDocument): Promise<boolean> {
    await this.markHolder(doc.userId);
    return insertUnique(this.collection, doc);
  }

  /**
   * Records a verified assertion's counter and backup state, if the counter moves forward (or both
   * are zero: authenticators that do not count). FerretDB's conditional update is read-then-write,
   * so two racing assertions with one counter could both pass it: the counter moves forward in
   * Redis first (`stored` is the counter read with the passkey), then in the document.
   */
  async advance(credentialId: string, counter: number, stored: number, backedUp: boolean): Promise<boolean> {
    if (counter > 0) {
      const key = `passkey-counter:{${credentialId}}`;
      if ((await this.counters.vigilPasskeyAdvance(key, counter, stored, COUNTER_SECONDS)) !== 1) return false;
    }
    const result = await this.collection.updateOne(
      counter > 0 ? { _id: credentialId, counter: { $lt: counter } } : { _id: credentialId, counter: 0 },
      { $set: { counter, backedUp, lastUsedAt: new Date() } },
    );
    return result.modifiedCount === 1;
  }

  async rename(userId: string, credentialId: string, name: string): Promise<PasskeyDocument | null> {
    return this.collection.findOneAndUpdate({ _id: credentialId, userId }, { $set: { name } }, { returnDocument: 'after' });
  }

  async remove(userId: string, credentialId: string): Promise<boolean> {
    return (await this.collection.deleteOne({ _id: credentialId, userId })).deletedCount === 1;
  }

  /** Withdrawal: the passkeys, then the marker (the account can no longer log in at all). */
  async removeAll(userId: string): Promise<void> {
    await this.collection.deleteMany({ userId });
    await this.holders.deleteOne({ _id: userId });
  }
}
