import type { Collection, Db } from 'mongodb';
import type { JWK } from 'jose';
import { insertUnique } from '../storage/mongo.ts';
import { open, seal } from '../crypto/sealed-box.ts';

/**
 * One generated signing key as MongoDB keeps it. `_id` is the key's sequence number: the unique
 * `_id` index is what makes "generate on first start" and "rotate" safe when several gateways do
 * it at once (FerretDB has no transactions, but a duplicate insert is always refused).
 */
export interface StoredSigningKey {
  _id: number;
  kid: string;
  alg: 'EdDSA';
  publicJwk: JWK;
  /** Present only while the key may still sign; plain or sealed, per VIGIL_JWT_KEY_ENCRYPTION_KEY. */
  privateJwk?: JWK;
  sealedPrivateJwk?: string;
  createdAt: Date;
  /** When this key replaced its predecessor: the moment every earlier key stops verifying. */
  previousVerifyUntil?: Date;
}

export class SigningKeyStore {
  private readonly collection: Collection<StoredSigningKey>;

  constructor(
    db: Db,
    /** AES-256 key for private keys at rest; undefined stores them as plain JWKs. */
    private readonly encryptionKey: Buffer | undefined,
  ) {
    this.collection = db.collection<StoredSigningKey>('signing_keys');
  }

  /** The newest keys first. Older keys than these have long stopped verifying. */
  async latest(limit = 16): Promise<StoredSigningKey[]> {
    return this.collection.find({}).sort({ _id: -1 }).limit(limit).toArray();
  }

  /** Inserts key number `seq`; false if another process inserted that number first. */
  async insert(seq: number, key: { kid: string; publicJwk: JWK; privateJwk: JWK; previousVerifyUntil?: Date }): Promise<boolean> {
    const doc: StoredSigningKey = { _id: seq, kid: key.kid, alg: 'EdDSA', publicJwk: key.publicJwk, createdAt: new Date() };
    if (this.encryptionKey) doc.sealedPrivateJwk = seal(this.encryptionKey, JSON.stringify(key.privateJwk), key.kid);
    else doc.privateJwk = key.privateJwk;
    if (key.previousVerifyUntil) doc.previousVerifyUntil = key.previousVerifyUntil;
    return insertUnique(this.collection, doc);
  }

  /** Drops the private half of keys that can no longer sign, so old key material does not linger. */
  async forgetPrivateKeysBefore(seq: number): Promise<void> {
    await this.collection.updateMany({ _id: { $lt: seq } }, { $unset: { privateJwk: '', sealedPrivateJwk: '' } });
  }

  privateJwkOf(doc: StoredSigningKey): JWK | undefined {
    if (doc.privateJwk) return doc.privateJwk;
    if (!doc.sealedPrivateJwk) return undefined;
    if (!this.encryptionKey) {
      throw new Error(`Signing key ${doc.kid} is stored encrypted but VIGIL_JWT_KEY_ENCRYPTION_KEY is not set`);
    }
    const json = open(this.encryptionKey, doc.sealedPrivateJwk, doc.kid);
    if (json === undefined) throw new Error(`Signing key ${doc.kid} does not decrypt with VIGIL_JWT_KEY_ENCRYPTION_KEY`);
    return JSON.parse(json) as JWK;
  }
}
