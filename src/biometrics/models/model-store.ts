import { Binary, ObjectId, type Collection, type Db } from 'mongodb';
import type { ModelSummary } from '../../../protocol/biometrics.ts';
import { isDuplicateKey } from '../../storage/mongo.ts';
import type { DetectorParams } from '../detectors/index.ts';
import type { ModelArtifact } from '../training.ts';
import type { DataCipher } from '../../crypto/data-cipher.ts';
import { binaryToBytes, binaryToFloat32 } from './float32-binary.ts';

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
 * inserting under the unique index {userId, version}; the loser of a race retries with the next.
 */
export class ModelStore {
  private readonly models: Collection<ModelRecord>;

  /** `cipher` seals graphs and parameters at rest (VIGIL_BIOMETRIC_KEYS); without one they are stored as they are. */
  constructor(
    db: Db,
    private readonly cipher?: DataCipher,
  ) {
    this.models = db.collection<ModelRecord>('models');
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
  }

  /** Stores a trained (and onnxruntime-verified) artifact as the account's next version. */
  async insertVersion(userId: string, enrollmentId: ObjectId, artifact: ModelArtifact): Promise<ModelRecord> {
    const { onnx, params, ...summary } = artifact;
    for (let attempt = 0; attempt < VERSION_ATTEMPTS; attempt++) {
      const last = await this.models.findOne({ userId }, { sort: { version: -1 }, projection: { version: 1 } });
      const _id = new ObjectId();
      const seal = this.sealer(_id);
      const record: ModelRecord = {
        ...summary,
        _id,
        userId,
        version: (last?.version ?? 0) + 1,
        enrollmentId,
        createdAt: new Date(),
        onnx: seal(onnx, 'onnx'),
        params: encodeParams(params, seal),
        ...(this.cipher ? { keyId: this.cipher.keyId } : {}),
      };
      try {
        await this.models.insertOne(record);
        return record;
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
      }
    }
    throw new Error(`could not allocate a model version for ${userId} after ${VERSION_ATTEMPTS} attempts`);
  }

  latest(userId: string): Promise<ModelMeta | null> {
    return this.models.findOne({ userId }, { sort: { version: -1 }, ...WITHOUT_BYTES });
  }

  version(userId: string, version: number): Promise<ModelMeta | null> {
    return this.models.findOne({ userId, version }, WITHOUT_BYTES);
  }

  byEnrollment(enrollmentId: ObjectId): Promise<ModelMeta | null> {
    return this.models.findOne({ enrollmentId }, WITHOUT_BYTES);
  }

  async versions(userId: string): Promise<number[]> {
    const rows = await this.models
      .find({ userId }, { projection: { version: 1 } })
      .sort({ version: 1 })
      .toArray();
    return rows.map((r) => r.version);
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

  async deleteById(modelId: ObjectId): Promise<void> {
    await this.models.deleteOne({ _id: modelId });
  }

  async deleteForUser(userId: string): Promise<number> {
    return (await this.models.deleteMany({ userId })).deletedCount;
  }
}
