import { Binary, ObjectId, type Collection, type Db, type UpdateFilter } from 'mongodb';
import type { DetectorName, FeatureSpec, ModelMetrics } from '../../../protocol/biometrics.ts';
import type { ErrorCode, ErrorParams } from '../../../protocol/errors.ts';
import type { EnrollmentStatus } from '../../../protocol/http/biometrics.ts';
import { insertUnique } from '../../storage/mongo.ts';
import type { DataCipher } from '../../crypto/data-cipher.ts';
import { binaryToFloat32, float32ToBinary } from '../models/float32-binary.ts';

export type { EnrollmentStatus };

/** Where an enrolment came from (for the audit trail and diagnostics): `http`, `socket`, or an adapter's own name. */
export type EnrollmentSource = 'http' | 'socket' | (string & {});

/** One enrolment (collection `enrollments`): its spec, counters and outcome. Samples live in `enrollment_parts`. */
export interface EnrollmentRecord {
  _id: ObjectId;
  userId: string;
  status: EnrollmentStatus;
  source: EnrollmentSource;
  /** Fixed by the first upload; every later upload must match its kind, rate and channels. */
  spec: FeatureSpec;
  /** Requested detector; unset means the deployment's default at training time. */
  detector?: DetectorName;
  /** kind|modality|rate|sorted channels: enrolments with equal signatures can serve as each other's cohort. */
  signature: string;
  uploads: number;
  parts: number;
  rows: number;
  createdAt: Date;
  updatedAt: Date;
  committedAt?: Date;
  startedAt?: Date;
  finishedAt?: Date;
  modelVersion?: number;
  modelId?: ObjectId;
  metrics?: ModelMetrics;
  error?: EnrollmentFailure;
}

/** Why training failed: the catalogue code, its rendered message and params (to re-throw it). */
export interface EnrollmentFailure {
  code: ErrorCode;
  message: string;
  params: ErrorParams;
}

/** A run of consecutive rows of one upload (collection `enrollment_parts`), in the enrolment's channel order. */
export interface EnrollmentPart {
  /** `<enrolment id>:<part>` (partKey), so parts are read by `_id`; ObjectIds on parts stored before. */
  _id?: ObjectId | string;
  enrollmentId: ObjectId;
  userId: string;
  /** 0, 1, … per enrolment; unique with enrollmentId. */
  part: number;
  /** Parts with the same segment are one continuous recording; windows never cross segments. */
  segment: number;
  rows: number;
  /** Float32 rows; sealed (AES-256-GCM, bound to this part) when `keyId` is set. */
  data: Binary;
  /** The key that sealed `data`; absent on deployments without VIGIL_BIOMETRIC_KEYS. */
  keyId?: string;
}

/** One continuous recording, reassembled from its parts. */
export interface Segment {
  segment: number;
  rows: number;
  data: Float32Array;
}

/** Bounds on one enrolment (whatever the transport). */
export const ENROLLMENT_LIMITS = Object.freeze({
  /** Values per stored part: 4 MB of float32, well inside BSON's 16 MB document limit. */
  valuesPerPart: 1 << 20,
  /** Rows (samples or feature rows) over every upload of one enrolment. */
  maxRows: 1_000_000,
  /** Separate recordings (HTTP uploads, or socket enrolment flushes that do not continue the last). */
  maxUploads: 64,
  /** Stored parts (socket enrolment appends small continuation parts). */
  maxParts: 4_096,
});

export function cohortSignature(spec: FeatureSpec): string {
  return [spec.kind, spec.modality, spec.rate, [...spec.channels].sort().join(',')].join('|');
}

/** Tries at claiming a part number before giving up. */
const PART_ATTEMPTS = 16;

export class EnrollmentStore {
  private readonly enrollments: Collection<EnrollmentRecord>;
  private readonly parts: Collection<EnrollmentPart>;

  /** `cipher` seals samples at rest (VIGIL_BIOMETRIC_KEYS); without one they are stored as they are. */
  constructor(
    db: Db,
    private readonly cipher?: DataCipher,
  ) {
    this.enrollments = db.collection<EnrollmentRecord>('enrollments');
    this.parts = db.collection<EnrollmentPart>('enrollment_parts');
  }

  async ensureIndexes(): Promise<void> {
    await this.enrollments.createIndex({ userId: 1, createdAt: -1 });
    await this.enrollments.createIndex({ signature: 1, status: 1, finishedAt: -1 });
    await this.parts.createIndex({ enrollmentId: 1, part: 1 }, { unique: true });
    await this.parts.createIndex({ userId: 1 });
  }

  async create(input: {
    userId: string;
    source: EnrollmentSource;
    spec: FeatureSpec;
    detector?: DetectorName | undefined;
  }): Promise<EnrollmentRecord> {
    const now = new Date();
    const record: EnrollmentRecord = {
      _id: new ObjectId(),
      userId: input.userId,
      status: 'open',
      source: input.source,
      spec: input.spec,
      ...(input.detector ? { detector: input.detector } : {}),
      signature: cohortSignature(input.spec),
      uploads: 0,
      parts: 0,
      rows: 0,
      createdAt: now,
      updatedAt: now,
    };
    await this.enrollments.insertOne(record);
    return record;
  }

  /**
   * The enrolment if it exists and belongs to `userId` (another account's id is simply not found).
   * Read by `_id` alone and the owner checked here: FerretDB v1 uses the `_id` only for a filter
   * that is nothing else, and scans every enrolment for `{ _id, userId }`.
   */
  async get(userId: string, id: string | ObjectId): Promise<EnrollmentRecord | null> {
    const _id = toObjectId(id);
    const record = _id ? await this.enrollments.findOne({ _id }) : null;
    return record?.userId === userId ? record : null;
  }

  /**
   * Moves one enrolment on when its status is one of `from`: read by `_id`, checked here, written by
   * `_id` (a filter with more than the `_id` would scan every enrolment). FerretDB v1's own filtered
   * update is the same read, check and write without a lock, so this guards no less.
   */
  private async transition(id: ObjectId, from: EnrollmentStatus[], update: UpdateFilter<EnrollmentRecord>): Promise<boolean> {
    const current = await this.enrollments.findOne({ _id: id }, { projection: { status: 1 } });
    if (!current || !from.includes(current.status)) return false;
    return (await this.enrollments.updateOne({ _id: id }, update)).matchedCount === 1;
  }

  /**
   * Stores rows (already in the enrolment's channel order) as one or more parts. A new upload
   * starts a segment; `continues` appends to the last segment (a stream flushed in pieces).
   */
  async appendRows(enrollment: EnrollmentRecord, data: Float32Array, rows: number, continues: boolean): Promise<void> {
    const width = enrollment.spec.channels.length;
    const rowsPerPart = Math.max(1, Math.floor(ENROLLMENT_LIMITS.valuesPerPart / width));
    // The counter lags only when a writer died between its parts and its count: walk on from it.
    let next = enrollment.parts;
    let segment: number | undefined;
    if (continues) {
      const last = await this.lastPart(enrollment._id, next);
      next = last ? last.part + 1 : next;
      segment = last?.segment ?? (await this.parts.findOne({ enrollmentId: enrollment._id }, { sort: { part: -1 } }))?.segment;
    }
    const newSegment = segment === undefined;
    for (let from = 0; from < rows; from += rowsPerPart) {
      const count = Math.min(rowsPerPart, rows - from);
      const slice = data.subarray(from * width, (from + count) * width);
      const part = await this.insertPart(enrollment, slice, count, segment, next);
      segment ??= part.segment;
      next = part.part + 1;
    }
    await this.enrollments.updateOne(
      { _id: enrollment._id },
      {
        $inc: { rows, parts: Math.ceil(rows / rowsPerPart), uploads: newSegment ? 1 : 0 },
        $set: { updatedAt: new Date() },
      },
    );
  }

  /**
   * The highest-numbered part from `from` on, walked by `_id` (parts are numbered without gaps);
   * null when part `from` does not exist (or `from` is 0 and the enrolment has no part).
   */
  private async lastPart(enrollmentId: ObjectId, from: number): Promise<Pick<EnrollmentPart, 'part' | 'segment'> | null> {
    let last: Pick<EnrollmentPart, 'part' | 'segment'> | null = null;
    if (from > 0)
      last = await this.parts.findOne({ _id: partKey(enrollmentId, from - 1) }, { projection: { part: 1, segment: 1 } });
    for (let part = from; ; part++) {
      const found = await this.parts.findOne({ _id: partKey(enrollmentId, part) }, { projection: { part: 1, segment: 1 } });
      if (!found) return last;
      last = found;
    }
  }

  /** Claims part number `next` (or the first free one after it): the `_id` is the claim. */
  private async insertPart(
    enrollment: EnrollmentRecord,
    slice: Float32Array,
    rows: number,
    segment: number | undefined,
    next: number,
  ): Promise<EnrollmentPart> {
    for (let attempt = 0, part = next; attempt < PART_ATTEMPTS; attempt++, part++) {
      const record: EnrollmentPart = {
        _id: partKey(enrollment._id, part),
        enrollmentId: enrollment._id,
        userId: enrollment.userId,
        part,
        // A new segment is named after its first part, so concurrent uploads cannot share one.
        segment: segment ?? part,
        rows,
        ...this.sealed(enrollment._id, part, slice),
      };
      if (await insertUnique(this.parts, record)) return record;
    }
    throw new Error(`could not allocate a part of enrolment ${enrollment._id.toHexString()}`);
  }

  private sealed(enrollmentId: ObjectId, part: number, values: Float32Array): Pick<EnrollmentPart, 'data' | 'keyId'> {
    if (!this.cipher) return { data: float32ToBinary(values) };
    const plain = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    return { data: new Binary(this.cipher.seal(plain, partContext(enrollmentId, part))), keyId: this.cipher.keyId };
  }

  private opened(p: EnrollmentPart): Float32Array {
    if (p.keyId === undefined) return binaryToFloat32(p.data);
    if (!this.cipher) throw new Error('enrolment samples are sealed but VIGIL_BIOMETRIC_KEYS is not set');
    return binaryToFloat32(new Binary(this.cipher.open(p.data.value(), partContext(p.enrollmentId, p.part))));
  }

  /**
   * The parts in order: by `_id` one after another (they are numbered without gaps); enrolments
   * stored before parts had such ids are read the old way, by a filtered scan.
   */
  private async *partsInOrder(enrollmentId: ObjectId, projection?: Record<string, 1>): AsyncGenerator<EnrollmentPart> {
    const options = projection ? { projection } : {};
    const first = await this.parts.findOne({ _id: partKey(enrollmentId, 0) }, options);
    if (!first) {
      const cursor = this.parts.find({ enrollmentId }, options).sort({ part: 1 });
      try {
        for await (const p of cursor) yield p;
      } finally {
        await cursor.close();
      }
      return;
    }
    yield first;
    for (let part = 1; ; part++) {
      const p = await this.parts.findOne({ _id: partKey(enrollmentId, part) }, options);
      if (!p) return;
      yield p;
    }
  }

  /** Rows per segment, from the parts themselves (authoritative, whatever the counters say). */
  async segmentRows(enrollmentId: ObjectId): Promise<number[]> {
    const rows = new Map<number, number>();
    for await (const p of this.partsInOrder(enrollmentId, { segment: 1, rows: 1 }))
      rows.set(p.segment, (rows.get(p.segment) ?? 0) + p.rows);
    return [...rows.values()];
  }

  /**
   * The enrolment's recordings in order, each reassembled from its parts. `maxRows` stops early
   * (cohort members: a bounded sample is enough).
   */
  async segments(enrollment: Pick<EnrollmentRecord, '_id' | 'spec'>, maxRows = Number.POSITIVE_INFINITY): Promise<Segment[]> {
    const bySegment = new Map<number, { rows: number; chunks: Float32Array[] }>();
    let total = 0;
    for await (const p of this.partsInOrder(enrollment._id)) {
      let entry = bySegment.get(p.segment);
      if (!entry) bySegment.set(p.segment, (entry = { rows: 0, chunks: [] }));
      entry.rows += p.rows;
      entry.chunks.push(this.opened(p));
      total += p.rows;
      if (total >= maxRows) break;
    }
    return [...bySegment.entries()].map(([segment, { rows, chunks }]) => ({ segment, rows, data: concat(chunks) }));
  }

  /** open → queued. False when the enrolment is no longer open (another commit won). */
  async markQueued(id: ObjectId): Promise<boolean> {
    const now = new Date();
    return this.transition(id, ['open'], { $set: { status: 'queued', committedAt: now, updatedAt: now } });
  }

  /** Back to open when the job could not be queued (Redis away), so the client can commit again. */
  async reopen(id: ObjectId): Promise<void> {
    await this.transition(id, ['queued'], { $set: { status: 'open', updatedAt: new Date() }, $unset: { committedAt: '' } });
  }

  /** queued (or training, on a retry) → training. False when the enrolment is gone or settled. */
  async markTraining(id: ObjectId): Promise<boolean> {
    const now = new Date();
    return this.transition(id, ['queued', 'training'], { $set: { status: 'training', startedAt: now, updatedAt: now } });
  }

  /** training → ready with the stored version. False when the enrolment was deleted meanwhile. */
  async markReady(id: ObjectId, model: { modelId: ObjectId; version: number; metrics: ModelMetrics }): Promise<boolean> {
    const now = new Date();
    return this.transition(id, ['queued', 'training'], {
      $set: {
        status: 'ready',
        modelId: model.modelId,
        modelVersion: model.version,
        metrics: model.metrics,
        finishedAt: now,
        updatedAt: now,
      },
    });
  }

  /** → failed, unless it already settled. Returns the record when this call failed it. */
  async markFailed(id: ObjectId, error: EnrollmentFailure): Promise<EnrollmentRecord | null> {
    const now = new Date();
    const failed = await this.transition(id, ['queued', 'training'], {
      $set: { status: 'failed', error, finishedAt: now, updatedAt: now },
    });
    return failed ? this.enrollments.findOne({ _id: id }) : null;
  }

  /** Enrolments of every account still queued or training, oldest first (the reconciler's pass). */
  unsettled(limit: number): Promise<EnrollmentRecord[]> {
    return this.enrollments
      .find({ status: { $in: ['queued', 'training'] } })
      .sort({ updatedAt: 1 })
      .limit(limit)
      .toArray();
  }

  /** Enrolments still waiting for or in training (their queued jobs are removed on deletion). */
  async pending(userId: string): Promise<ObjectId[]> {
    const rows = await this.enrollments
      .find({ userId, status: { $in: ['queued', 'training'] } }, { projection: { _id: 1 } })
      .toArray();
    return rows.map((r) => r._id);
  }

  /**
   * Other accounts' ready enrolments with the same signature, one per account (its latest), up to
   * `limit` read: the candidates of a cohort. Which of them train a model is drawn at random and
   * vetted by the caller (cohort/training-cohort.ts), never "the newest".
   */
  async poolCandidates(signature: string, excludeUserId: string, limit: number): Promise<EnrollmentRecord[]> {
    if (limit <= 0) return [];
    const picked = new Map<string, EnrollmentRecord>();
    const cursor = this.enrollments
      .find({ signature, status: 'ready', userId: { $ne: excludeUserId } })
      .sort({ finishedAt: -1 })
      .limit(limit);
    for await (const e of cursor) if (!picked.has(e.userId)) picked.set(e.userId, e);
    await cursor.close();
    return [...picked.values()];
  }

  /** Deletes enrolments left open and untouched since `before` (never committed), with their samples. */
  async sweepAbandoned(before: Date): Promise<number> {
    const stale = await this.enrollments
      .find({ status: 'open', updatedAt: { $lt: before } }, { projection: { _id: 1 } })
      .toArray();
    if (stale.length === 0) return 0;
    const ids = stale.map((e) => e._id);
    await this.parts.deleteMany({ enrollmentId: { $in: ids } });
    return (await this.enrollments.deleteMany({ _id: { $in: ids }, status: 'open' })).deletedCount;
  }

  async deleteForUser(userId: string): Promise<number> {
    await this.parts.deleteMany({ userId });
    return (await this.enrollments.deleteMany({ userId })).deletedCount;
  }
}

const partKey = (enrollmentId: ObjectId, part: number) => `${enrollmentId.toHexString()}:${part}`;
const partContext = (enrollmentId: ObjectId, part: number) => `enrollment_parts:${enrollmentId.toHexString()}:${part}`;

function concat(chunks: Float32Array[]): Float32Array {
  if (chunks.length === 1) return chunks[0] as Float32Array;
  const out = new Float32Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

export function toObjectId(id: string | ObjectId): ObjectId | undefined {
  if (id instanceof ObjectId) return id;
  return /^[0-9a-f]{24}$/.test(id) ? new ObjectId(id) : undefined;
}
