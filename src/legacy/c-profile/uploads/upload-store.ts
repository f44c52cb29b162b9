import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { Binary, type Collection, type Db } from 'mongodb';
import { VigilError, type ErrorDetail } from '../../../../protocol/errors.ts';
import type { CUploadKind } from '../../../../protocol/legacy/c-profile.ts';
import { fieldError, fieldErrors } from '../../../server/http/field-errors.ts';
// Registers C's own codes (C_UPLOAD_URL_INVALID) before this module can throw them.
import '../c-errors.ts';
import type { Logger } from '../../../observability/logger.ts';
import { isDuplicateKey } from '../../../storage/mongo.ts';
import { mediaType } from '../../../server/http/body.ts';
import { randomShortId } from '../short-uuid.ts';
import { objectUrl, presignUrl, type S3Target } from './s3-presign.ts';

/** What may be uploaded (images, and PDFs for verification documents), with the extension each gets. */
export const UPLOAD_TYPES: Readonly<Record<string, string>> = {
  'image/jpeg': 'jpeg',
  'image/png': 'png',
  'image/gif': 'gif',
  'image/webp': 'webp',
  'image/heic': 'heic',
  'image/heif': 'heif',
  'application/pdf': 'pdf',
};
const EXTENSIONS = new Set([...Object.values(UPLOAD_TYPES), 'jpg']);
/** How long a signed upload URL works. */
export const UPLOAD_URL_TTL_SECONDS = 900;
/** Uploads no registration claimed are deleted after this long. */
const UNCLAIMED_KEEP_MS = 24 * 3600 * 1000;

const FOLDER: Record<CUploadKind, string> = { avatar: 'avatars', profile: 'profiles', verification: 'verifications' };
/** The document's references: images/users/avatars/avatar_<16–40 letters/digits>.jpeg (its own are 22 and 23 long) */
const REFERENCE =
  /^images\/users\/(avatars|profiles|verifications)\/(avatar|profile|verification)_[A-Za-z0-9]{16,40}\.(jpeg|jpg|png|gif|webp|heic|heif|pdf)$/;

interface UploadRecord {
  /** The reference (object key). */
  _id: string;
  kind: CUploadKind;
  contentType: string;
  maxBytes: number;
  store: 's3' | 'gateway';
  signedAt: Date;
  uploadedAt?: Date;
  size?: number;
  /** Set once a registration claimed it. */
  userId?: string;
}

interface UploadBlob {
  _id: string;
  contentType: string;
  size: number;
  bytes: Binary;
  storedAt: Date;
}

/** One per claimed reference; the unique _id makes a claim race-free even where updates are not atomic. */
interface UploadClaim {
  _id: string;
  holder: string;
  userId?: string;
  claimedAt: Date;
}

export interface SignedUpload {
  url: string;
  method: 'PUT';
  headers: Record<string, string>;
  path: string;
  expires_in: number;
  max_bytes: number;
}

export interface UploadRef {
  /** The registration field that names it (for the error). */
  field: string;
  path: string;
}

/**
 * C's uploads. `sign` hands out a PUT URL: presigned (SigV4) for the S3-compatible store when one
 * is configured, else an HMAC-signed, expiring, size-limited URL on the gateway itself, which
 * keeps the bytes in Mongo (`legacy_c_upload_blobs`). Registration accepts only references that
 * were really uploaded (the gateway saw the bytes; S3 answers HEAD) and claims each once.
 */
export class UploadStore {
  private readonly records: Collection<UploadRecord>;
  private readonly blobs: Collection<UploadBlob>;
  private readonly claims: Collection<UploadClaim>;
  private readonly settings: Collection<{ _id: string; key: string }>;
  private signingKey: Buffer | undefined;

  constructor(
    db: Db,
    private readonly options: { s3: S3Target | undefined; publicUrl: string; maxBytes: number; logger: Logger },
  ) {
    this.records = db.collection<UploadRecord>('legacy_c_uploads');
    this.blobs = db.collection<UploadBlob>('legacy_c_upload_blobs');
    this.claims = db.collection<UploadClaim>('legacy_c_upload_claims');
    this.settings = db.collection<{ _id: string; key: string }>('legacy_c_settings');
  }

  get usesS3(): boolean {
    return this.options.s3 !== undefined;
  }

  /** Indexes, and the HMAC key of gateway upload URLs: generated once, shared by every gateway process through Mongo. */
  async start(): Promise<void> {
    await this.records.createIndex({ userId: 1 }, { name: 'user', sparse: true });
    await this.records.createIndex({ signedAt: 1 }, { name: 'signed_at' });
    await this.claims.createIndex({ holder: 1 }, { name: 'holder' });
    const id = 'upload-signing-key';
    let doc = await this.settings.findOne({ _id: id });
    if (!doc) {
      try {
        await this.settings.insertOne({ _id: id, key: randomBytes(32).toString('base64url') });
      } catch (err) {
        if (!isDuplicateKey(err)) throw err; // another process won the race; use its key
      }
      doc = await this.settings.findOne({ _id: id });
    }
    this.signingKey = Buffer.from(doc!.key, 'base64url');
  }

  async sign(input: { fileName: string; fileType: string; kind?: CUploadKind }): Promise<SignedUpload> {
    const type = mediaType(input.fileType);
    // Own keys only: `in` would also accept "constructor", "toString"… from Object.prototype.
    if (!Object.hasOwn(UPLOAD_TYPES, type))
      throw fieldError('file_type', `지원하지 않는 파일 형식입니다: ${Object.keys(UPLOAD_TYPES).join(', ')}`);
    const path = this.pathFor(input.fileName, type, input.kind);
    const kind = REFERENCE.exec(path)![2] as CUploadKind;
    const now = new Date();
    const record: UploadRecord = {
      _id: path,
      kind,
      contentType: type,
      maxBytes: this.options.maxBytes,
      store: this.usesS3 ? 's3' : 'gateway',
      signedAt: now,
    };
    try {
      await this.records.insertOne(record);
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      // A client-chosen reference signed again before anything was uploaded to it may be re-signed.
      const existing = await this.records.findOne({ _id: path });
      if (!existing || existing.uploadedAt || existing.userId || (await this.claims.findOne({ _id: path }))) {
        throw fieldError('file_name', '이미 사용 중인 파일 이름입니다.');
      }
      await this.records.replaceOne({ _id: path }, record);
    }
    const exp = Math.floor(now.getTime() / 1000) + UPLOAD_URL_TTL_SECONDS;
    const url = this.options.s3
      ? presignUrl({
          method: 'PUT',
          url: objectUrl(this.options.s3, path),
          ...this.credentials(),
          expiresSeconds: UPLOAD_URL_TTL_SECONDS,
          now,
        })
      : this.gatewayUrl(path, type, this.options.maxBytes, exp);
    return {
      url,
      method: 'PUT',
      headers: { 'content-type': type },
      path,
      expires_in: UPLOAD_URL_TTL_SECONDS,
      max_bytes: this.options.maxBytes,
    };
  }

  /** A PUT to the gateway's own upload URL: checks signature, expiry, type and size, then keeps the bytes. */
  async receive(
    query: { key: string; type: string; max: number; exp: number; sig: string },
    bytes: Buffer,
    contentType: string,
  ): Promise<string> {
    const invalid = () => new VigilError('C_UPLOAD_URL_INVALID');
    if (this.usesS3) throw invalid();
    const expected = Buffer.from(this.signature(query.key, query.type, query.max, query.exp));
    const given = Buffer.from(query.sig);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw invalid();
    if (query.exp * 1000 < Date.now() || mediaType(contentType) !== query.type) throw invalid();
    if (bytes.length > query.max) throw new VigilError('BODY_TOO_LARGE', { limit: query.max });
    if (bytes.length === 0) throw new VigilError('BODY_INVALID', { reason: 'the file is empty' });
    const record = await this.records.findOne({ _id: query.key });
    if (!record || record.store !== 'gateway' || record.userId || (await this.claims.findOne({ _id: query.key })))
      throw invalid();
    const now = new Date();
    await this.blobs.replaceOne(
      { _id: query.key },
      { contentType: query.type, size: bytes.length, bytes: new Binary(bytes), storedAt: now },
      { upsert: true },
    );
    await this.records.updateOne({ _id: query.key }, { $set: { uploadedAt: now, size: bytes.length } });
    return query.key;
  }

  /** VALIDATION_FAILED naming each field whose reference was never uploaded (or is already someone's). */
  async assertUploaded(refs: readonly UploadRef[]): Promise<void> {
    const problems: ErrorDetail[] = [];
    for (const ref of refs) {
      const record = await this.records.findOne({ _id: ref.path });
      const claimed = record ? await this.claims.findOne({ _id: ref.path }) : null;
      if (!record || claimed || !(await this.isUploaded(record)))
        problems.push({ field: ref.field, message: `업로드되지 않은 파일입니다: ${ref.path}` });
    }
    if (problems.length > 0) throw fieldErrors(problems);
  }

  /** Claims every reference for one registration; all or none. Returns the holder to finish or release. */
  async claim(refs: readonly UploadRef[]): Promise<string> {
    const holder = randomUUID();
    for (const ref of refs) {
      try {
        await this.claims.insertOne({ _id: ref.path, holder, claimedAt: new Date() });
      } catch (err) {
        await this.release(holder);
        if (isDuplicateKey(err)) throw fieldError(ref.field, `이미 사용된 파일입니다: ${ref.path}`);
        throw err;
      }
    }
    return holder;
  }

  async finish(holder: string, userId: string, refs: readonly UploadRef[]): Promise<void> {
    await this.claims.updateMany({ holder }, { $set: { userId } });
    await this.records.updateMany({ _id: { $in: refs.map((r) => r.path) } }, { $set: { userId } });
  }

  async release(holder: string): Promise<void> {
    await this.claims.deleteMany({ holder });
  }

  /** The bytes the gateway holds for a reference (S3 holds its own). */
  async blob(path: string): Promise<{ contentType: string; bytes: Buffer } | null> {
    const doc = await this.blobs.findOne({ _id: path });
    return doc ? { contentType: doc.contentType, bytes: Buffer.from(doc.bytes.buffer) } : null;
  }

  /** Deletes a withdrawn user's files (verification documents are personal data). */
  async removeForUser(userId: string): Promise<void> {
    const paths = (await this.records.find({ userId }, { projection: { _id: 1 } }).toArray()).map((r) => r._id);
    await this.deletePaths(paths);
    await this.claims.deleteMany({ userId });
  }

  /** Deletes uploads no registration claimed within a day. */
  async sweep(now = Date.now()): Promise<number> {
    const stale = await this.records
      .find({ signedAt: { $lt: new Date(now - UNCLAIMED_KEEP_MS) }, userId: { $exists: false } }, { projection: { _id: 1 } })
      .limit(500)
      .toArray();
    const claimed = new Set(
      (await this.claims.find({ _id: { $in: stale.map((r) => r._id) } }, { projection: { _id: 1 } }).toArray()).map((c) => c._id),
    );
    const paths = stale.map((r) => r._id).filter((p) => !claimed.has(p));
    await this.deletePaths(paths);
    return paths.length;
  }

  private async deletePaths(paths: string[]): Promise<void> {
    if (paths.length === 0) return;
    await this.blobs.deleteMany({ _id: { $in: paths } });
    await this.records.deleteMany({ _id: { $in: paths } });
    const s3 = this.options.s3;
    if (!s3) return;
    for (const path of paths) {
      const url = presignUrl({ method: 'DELETE', url: objectUrl(s3, path), ...this.credentials(), expiresSeconds: 60 });
      await fetch(url, { method: 'DELETE', signal: AbortSignal.timeout(5_000) }).catch((err: unknown) =>
        this.options.logger.warn({ err, path }, 'could not delete an upload from S3'),
      );
    }
  }

  private pathFor(fileName: string, type: string, kind: CUploadKind | undefined): string {
    const match = REFERENCE.exec(fileName);
    if (match && FOLDER[match[2] as CUploadKind] === match[1]) return fileName;
    if (!kind) throw fieldError('kind', 'avatar, profile 또는 verification 중 하나를 지정하세요.');
    const given = fileName.includes('.') ? fileName.split('.').pop()!.toLowerCase() : '';
    const ext = EXTENSIONS.has(given) ? given : UPLOAD_TYPES[type]!;
    return `images/users/${FOLDER[kind]}/${kind}_${randomShortId()}.${ext}`;
  }

  private async isUploaded(record: UploadRecord): Promise<boolean> {
    if (record.store === 'gateway' || !this.options.s3) return record.uploadedAt !== undefined;
    // The store is the truth: the client PUT straight to it.
    const url = presignUrl({
      method: 'HEAD',
      url: objectUrl(this.options.s3, record._id),
      ...this.credentials(),
      expiresSeconds: 60,
    });
    let res: Response;
    try {
      res = await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(5_000) });
    } catch (err) {
      throw new VigilError('DEPENDENCY_UNAVAILABLE', { dependency: 'S3' }, { cause: err });
    }
    if (res.status === 404 || res.status === 403) return false;
    if (!res.ok) throw new VigilError('DEPENDENCY_UNAVAILABLE', { dependency: 'S3' });
    const size = Number(res.headers.get('content-length') ?? '0');
    if (size > record.maxBytes) return false;
    await this.records.updateOne({ _id: record._id }, { $set: { uploadedAt: new Date(), size } });
    return true;
  }

  private credentials() {
    const s3 = this.options.s3!;
    return { region: s3.region, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey };
  }

  private signature(key: string, type: string, max: number, exp: number): string {
    if (!this.signingKey) throw new Error('UploadStore.start() has not run');
    return createHmac('sha256', this.signingKey).update(`PUT\n${key}\n${type}\n${max}\n${exp}`).digest('base64url');
  }

  private gatewayUrl(path: string, type: string, max: number, exp: number): string {
    const query = new URLSearchParams({
      key: path,
      type,
      max: String(max),
      exp: String(exp),
      sig: this.signature(path, type, max, exp),
    });
    return `${this.options.publicUrl.replace(/\/+$/, '')}/api/uploads/?${query.toString()}`;
  }
}
