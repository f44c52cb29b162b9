import { Binary, type Collection, type Db, type ObjectId } from 'mongodb';
import type { ModelSummary } from '../../../protocol/biometrics.ts';
import { isDuplicateKey } from '../../storage/mongo.ts';
import type { DetectorParams } from '../detectors/index.ts';
import type { ModelArtifact } from '../training.ts';
import type { DataCipher } from '../../crypto/data-cipher.ts';
import { binaryToBytes, binaryToFloat32 } from './float32-binary.ts';
import { ModelVersions } from './model-versions.ts';

/** Detector parameters as stored: float32 arrays as Binary, scalars as they are. */
type StoredParams = Record<string, Binary | number | string>;

/** One model version of one account (collection `models`). */
export interface ModelRecord extends ModelSummary {
  _id: ObjectId;
  userId: string;
  /** 1, 2, … per account; unique with userId. Restarts at 1 after the account deletes every version. */
  version: number;
  enrollmentId: ObjectId;
  createdAt: Date;
  /** Sealed (AES-256-GCM, bound to this record) when `keyId` is set, like every Binary in `params`. */
  onnx: Binary;
  params: StoredParams;
  /** The key that sealed the graph and parameters; absent on deployments without VIGIL_BIOMETRIC_KEYS. */
  keyId?: string;
}

/** A version without its bytes: what listing and verification read first. */
export type ModelMeta = Omit<ModelRecord, 'onnx' | 'params'>;

const WITHOUT_BYTES = { projection: { onnx: 0, params: 0, keyId: 0 } } as const;

/** Tries at allocating a version number before giving up (each lost race costs one). */
const VERSION_ATTEMPTS = 16;

/** Where a sealed value of a model lives: what its authentication tag is bound to. */
const context = (modelId: ObjectId, field: string) => `models:${modelId.toHexString()}:${field}`;

function encodeParams(params: DetectorParams, seal: (bytes: Uint8Array, field: string) => Binary): StoredParams {
  const out: StoredParams = {};
  for (const [key, value] of Object.entries(params)) {
    out[key] =
      value instanceof Float32Array
        ? seal(new Uint8Array(value.buffer, value.byteOffset, value.byteLength), `params.${key}`)
        : (value as number | string);
  }
  return out;
}

function decodeParams(stored: StoredParams, open: (binary: Binary, field: string) => Binary): DetectorParams {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(stored)) {
    out[key] = value instanceof Binary ? binaryToFloat32(open(value, `params.${key}`)) : value;
  }
  return out as unknown as DetectorParams;
}

/**
 * Versioned models in Mongo. FerretDB has no transactions: a version number is claimed by
 * inserting its slot (model-versions.ts), and the model's `_id` is its enrolment's id; the current
 * model and the listing are read by `_id` only (FerretDB scans for any other filter).
 */
export class ModelStore {
  private readonly models: Collection<ModelRecord>;
  readonly versionSlots: ModelVersions;

  /** `cipher` seals graphs and parameters at rest (VIGIL_BIOMETRIC_KEYS); without one they are stored as they are. */
  constructor(
    db: Db,
    private readonly cipher?: DataCipher,
  ) {
    this.models = db.collection<ModelRecord>('models');
    this.versionSlots = new ModelVersions(db);
  }

  private sealer(modelId: ObjectId): (bytes: Uint8Array, field: string) => Binary {
    const { cipher } = this;
    return (bytes, field) => new Binary(cipher ? cipher.seal(bytes, context(modelId, field)) : bytes);
  }

  private opener(row: Pick<ModelRecord, '_id' | 'keyId'>): (binary: Binary, field: string) => Binary {
    if (row.keyId === undefined) return (binary) => binary;
    const { cipher } = this;
    if (!cipher) throw new Error('model data is sealed but VIGIL_BIOMETRIC_KEYS is not set');
    return (binary, field) => new Binary(cipher.open(binary.value(), context(row._id, field)));
  }

  async ensureIndexes(): Promise<void> {
    await this.models.createIndex({ userId: 1, version: 1 }, { unique: true });
    await this.models.createIndex({ enrollmentId: 1 });
    await this.versionSlots.backfill(this.models.find({}, { projection: { userId: 1, version: 1 } }));
  }

  /**
   * Stores a trained (and onnxruntime-verified) artifact as the account's next version. The model's
   * `_id` is its enrolment's id (one model per enrolment), so a retried job finds it by `_id`.
   */
  async insertVersion(userId: string, enrollmentId: ObjectId, artifact: ModelArtifact): Promise<ModelRecord> {
    const { onnx, params, ...summary } = artifact;
    const _id = enrollmentId;
    const seal = this.sealer(_id);
    const sealed = { onnx: seal(onnx, 'onnx'), params: encodeParams(params, seal) };
    for (let attempt = 0; attempt < VERSION_ATTEMPTS; attempt++) {
      const version = await this.versionSlots.claimFor(userId, _id);
      const record: ModelRecord = {
        ...summary,
        _id,
        userId,
        version,
        enrollmentId,
        createdAt: new Date(),
        ...sealed,
        ...(this.cipher ? { keyId: this.cipher.keyId } : {}),
      };
      try {
        await this.models.insertOne(record);
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        // This enrolment's model is already stored (by a racing attempt, maybe under this very
        // slot, which then stays), or an older gateway took the version.
        const stored = await this.models.findOne({ _id }, { projection: { version: 1 } });
        if (stored?.version !== version) await this.versionSlots.discard(userId, version);
        if (stored) throw new Error(`enrolment ${enrollmentId.toHexString()} already has a model`, { cause: err });
        continue;
      }
      await this.versionSlots.raise(userId, version);
      await this.versionSlots.discardStale(userId, _id, version);
      return record;
    }
    throw new Error(`could not allocate a model version for ${userId} after ${VERSION_ATTEMPTS} attempts`);
  }

  /**
   * The newest version whose model is stored under it: its slot, then the model, each by `_id`. A
   * slot naming a model stored under another version is a dead attempt's claim (a late retry claims
   * above newer versions), not that model's place.
   */
  async latest(userId: string): Promise<ModelMeta | null> {
    for await (const slot of this.versionSlots.newestFirst(userId)) {
      const meta = slot.modelId && (await this.models.findOne({ _id: slot.modelId }, WITHOUT_BYTES));
      if (meta && meta.version === slot.version) return meta;
    }
    return null;
  }

  version(userId: string, version: number): Promise<ModelMeta | null> {
    return this.models.findOne({ userId, version }, WITHOUT_BYTES);
  }

  /**
   * The model an enrolment trained, if stored: by `_id` (models stored since the id is the
   * enrolment's), else the account's newest when it came from that enrolment (a job stored before
   * the upgrade, retried after it).
   */
  async byEnrollment(enrollmentId: ObjectId, userId: string): Promise<ModelMeta | null> {
    const own = await this.models.findOne({ _id: enrollmentId }, WITHOUT_BYTES);
    if (own) return own;
    const newest = await this.latest(userId);
    return newest?.enrollmentId.equals(enrollmentId) ? newest : null;
  }

  /** Every version whose model is stored under it, oldest first (a claimed slot may still be in flight or dead). */
  async versions(userId: string): Promise<number[]> {
    const versions: number[] = [];
    for await (const slot of this.versionSlots.newestFirst(userId)) {
      const stored = slot.modelId && (await this.models.findOne({ _id: slot.modelId }, { projection: { version: 1 } }));
      if (stored && stored.version === slot.version) versions.push(slot.version);
    }
    return versions.reverse();
  }

  /** The ONNX bytes of a version (immutable, so callers may cache them by id). */
  async onnx(modelId: ObjectId): Promise<Uint8Array | undefined> {
    const row = await this.models.findOne({ _id: modelId }, { projection: { onnx: 1, keyId: 1 } });
    return row ? binaryToBytes(this.opener(row)(row.onnx, 'onnx')) : undefined;
  }

  /** The detector parameters of a version: input of the TypeScript reference scorer. */
  async params(modelId: ObjectId): Promise<DetectorParams | undefined> {
    const row = await this.models.findOne({ _id: modelId }, { projection: { params: 1, keyId: 1 } });
    return row ? decodeParams(row.params, this.opener(row)) : undefined;
  }

  /** Discards one stored version (its enrolment went away during training). */
  async deleteById(modelId: ObjectId): Promise<void> {
    const row = await this.models.findOne({ _id: modelId }, { projection: { userId: 1, version: 1 } });
    if (row) await this.versionSlots.discard(row.userId, row.version);
    await this.models.deleteOne({ _id: modelId });
  }

  /** Every version; numbering restarts at 1. */
  async deleteForUser(userId: string): Promise<number> {
    const deleted = (await this.models.deleteMany({ userId })).deletedCount;
    await this.versionSlots.removeAll(userId);
    return deleted;
  }
}
