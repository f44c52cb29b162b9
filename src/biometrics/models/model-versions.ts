import type { Collection, Db, ObjectId } from 'mongodb';
import { insertBatched, insertUnique, isDuplicateKey } from '../../storage/mongo.ts';

/**
 * One version number of one account (collection `model_versions`, `_id` = `<userId>:<version>`),
 * naming the model stored under it. FerretDB v1 scans a collection for every filter not on `_id`,
 * and its updates read, change and write back without a lock (two updates of one document can
 * both pass a filter, and the later write wins). So versions are claimed by inserting their slot
 * (the `_id` makes that the one atomic step), and an account's newest version is found by walking
 * its slots by `_id` upwards from a hint, never by trusting a document someone updated.
 */
export interface VersionSlot {
  _id: string;
  userId: string;
  version: number;
  /** Absent only on a discarded slot that fills a gap older versions left. */
  modelId?: ObjectId;
  /** Set when the version's model was thrown away (its enrolment went during training). */
  discarded?: true;
}

/**
 * Where to start walking (collection `model_heads`, `_id` = userId): a version at or below the
 * newest, usually the newest. Only a hint: a racing or lagging writer may leave it lower, which
 * costs a later reader one more step up, never a wrong answer.
 */
interface HeadHint {
  _id: string;
  version: number;
}

/** Tries at claiming a version number before giving up (each lost race costs one). */
const CLAIM_ATTEMPTS = 16;

const slotKey = (userId: string, version: number) => `${userId}:${version}`;

export class ModelVersions {
  private readonly slots: Collection<VersionSlot>;
  private readonly heads: Collection<HeadHint>;

  constructor(db: Db) {
    this.slots = db.collection<VersionSlot>('model_versions');
    this.heads = db.collection<HeadHint>('model_heads');
  }

  /** Claims the account's next free version number for `modelId`. */
  async claim(userId: string, modelId: ObjectId): Promise<number> {
    let version = (await this.hint(userId)) + 1;
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++, version++) {
      if (await insertUnique(this.slots, { _id: slotKey(userId, version), userId, version, modelId })) return version;
    }
    throw new Error(`could not allocate a model version for ${userId} after ${CLAIM_ATTEMPTS} attempts`);
  }

  /**
   * The version `modelId` should be stored under: the account's newest live slot when it already
   * names this model (an attempt of the same job claimed it and died before storing the model),
   * else a newly claimed one. Reusing only the newest keeps version order equal to storing order.
   */
  async claimFor(userId: string, modelId: ObjectId): Promise<number> {
    for await (const slot of this.newestFirst(userId)) {
      if (slot.modelId?.equals(modelId)) return slot.version;
      break;
    }
    return this.claim(userId, modelId);
  }

  /** Discards the slots that name `modelId` under any version but `kept` (claims of earlier, dead attempts). */
  async discardStale(userId: string, modelId: ObjectId, kept: number): Promise<void> {
    const stale: number[] = [];
    for await (const slot of this.newestFirst(userId)) {
      if (slot.version !== kept && slot.modelId?.equals(modelId)) stale.push(slot.version);
    }
    for (const version of stale) await this.discard(userId, version);
  }

  /** Moves the hint up to `version` (a plain write: see HeadHint for why a lost race is harmless). */
  async raise(userId: string, version: number): Promise<void> {
    if (version <= (await this.hint(userId))) return;
    try {
      await this.heads.updateOne({ _id: userId }, { $set: { version } }, { upsert: true });
    } catch (err) {
      // Two first versions raced to create the hint; the loser sets it like any later writer.
      if (!isDuplicateKey(err)) throw err;
      await this.heads.updateOne({ _id: userId }, { $set: { version } });
    }
  }

  /**
   * The account's versions from the newest down, walked by `_id`: the caller takes the first whose
   * model it can read (a slot whose model is not stored yet, or never will be, is passed over).
   */
  async *newestFirst(userId: string): AsyncGenerator<VersionSlot> {
    const hint = await this.hint(userId);
    let top = hint > 0 ? await this.slot(userId, hint) : null;
    // A hint naming no slot: the account's versions were deleted since; walk from the start.
    let version = top ? hint : 0;
    for (let next = await this.slot(userId, version + 1); next; next = await this.slot(userId, version + 1)) {
      top = next;
      version++;
    }
    if (version !== hint) await this.raise(userId, version);
    for (let slot = top; slot; slot = version > 1 ? await this.slot(userId, --version) : null) {
      if (!slot.discarded) yield slot;
    }
  }

  async discard(userId: string, version: number): Promise<void> {
    await this.slots.updateOne({ _id: slotKey(userId, version) }, { $set: { discarded: true } });
  }

  /** Every slot and the hint, so numbering restarts at 1. */
  async removeAll(userId: string): Promise<void> {
    await this.slots.deleteMany({ userId });
    await this.heads.deleteOne({ _id: userId });
  }

  /**
   * Slots for models stored before slots existed (or by an older gateway): `rows` is every stored
   * version. Only what is missing is written, so it is safe to run again and beside gateways serving.
   */
  async backfill(rows: AsyncIterable<{ userId: string; version: number; _id: ObjectId }>): Promise<number> {
    const have = new Set<string>();
    for await (const slot of this.slots.find({}, { projection: { _id: 1 } })) have.add(slot._id);
    const stored = new Map<string, Map<number, ObjectId>>();
    for await (const row of rows) {
      let versions = stored.get(row.userId);
      if (!versions) stored.set(row.userId, (versions = new Map<number, ObjectId>()));
      versions.set(row.version, row._id);
    }
    const missing: VersionSlot[] = [];
    for (const [userId, versions] of stored) {
      const newest = Math.max(...versions.keys());
      // Versions deleted by older gateways left gaps; a walk must be able to step over them.
      for (let version = 1; version <= newest; version++) {
        if (have.has(slotKey(userId, version))) continue;
        const modelId = versions.get(version);
        missing.push({ _id: slotKey(userId, version), userId, version, ...(modelId ? { modelId } : { discarded: true }) });
      }
    }
    // A slot written meanwhile (a gateway already serving) is what this would have written.
    const { written } = await insertBatched(this.slots, missing);
    for (const [userId, versions] of stored) await this.raise(userId, Math.max(...versions.keys()));
    return written;
  }

  private async hint(userId: string): Promise<number> {
    return (await this.heads.findOne({ _id: userId }))?.version ?? 0;
  }

  private slot(userId: string, version: number): Promise<VersionSlot | null> {
    return this.slots.findOne({ _id: slotKey(userId, version) });
  }
}
