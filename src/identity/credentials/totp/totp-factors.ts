import { randomBytes } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import { generateURI, verify } from 'otplib';
import { renderSVG } from 'uqr';
import { VigilError } from '../../../../protocol/errors.ts';
import type { DataCipher } from '../../../crypto/data-cipher.ts';
import { isDuplicateKey } from '../../../storage/mongo.ts';
import type { RedisClient } from '../../../storage/redis.ts';
import { newRecoveryCodes, recoveryCodeDigest } from './recovery-codes.ts';

/** RFC 6238 as authenticator apps implement it: SHA-1, 6 digits, 30 s steps. */
const PERIOD_SECONDS = 30;
/** One step either side: a phone clock a little off still works, and nothing older. */
const TOLERANCE_SECONDS = 30;

interface TotpDocument {
  _id: string; // the user id: one authenticator app per account
  /** The Base32 secret, sealed when VIGIL_MFA_KEYS is set (plaintext only outside production). */
  secret: { sealed: string } | { plain: string };
  confirmed: boolean;
  createdAt: Date;
  confirmedAt?: Date;
  /** The last time step accepted: a code of that step or earlier is a replay. */
  lastTimeStep: number;
  /** SHA-256 digests of unused recovery codes. */
  recoveryCodes: string[];
}

export interface TotpSetup {
  secret: string;
  uri: string;
  /** The URI as a QR code, for a person to scan. */
  qrSvg: string;
}

export interface TotpStatus {
  enabled: boolean;
  pendingSetup: boolean;
  confirmedAt?: Date;
  recoveryCodesLeft: number;
}

/** Outlasts a code's window (one step either side) and any request that could still present it. */
const FIRST_USE_SECONDS = 300;

/**
 * Authenticator-app factors (TOTP, RFC 6238) in MongoDB. A setup is pending until a first code
 * confirms it; each accepted code moves `lastTimeStep` forward, and a code (or recovery code) is
 * first claimed in Redis, so it is accepted once even by concurrent requests.
 */
export class TotpFactors {
  private readonly collection: Collection<TotpDocument>;

  constructor(
    db: Db,
    private readonly redis: RedisClient,
    private readonly issuer: string,
    private readonly cipher: DataCipher | undefined,
  ) {
    this.collection = db.collection<TotpDocument>('totp_factors');
  }

  async status(userId: string): Promise<TotpStatus> {
    const doc = await this.collection.findOne({ _id: userId });
    const status: TotpStatus = {
      enabled: doc?.confirmed === true,
      pendingSetup: doc?.confirmed === false,
      recoveryCodesLeft: doc?.recoveryCodes.length ?? 0,
    };
    if (doc?.confirmedAt) status.confirmedAt = doc.confirmedAt;
    return status;
  }

  /** Asked at every login. By `_id` alone: FerretDB v1 scans every factor for `{ _id, confirmed }`. */
  async enabled(userId: string): Promise<boolean> {
    return (await this.collection.findOne({ _id: userId }, { projection: { confirmed: 1 } }))?.confirmed === true;
  }

  /** A new secret, pending until confirmed; replaces an unconfirmed one. */
  async begin(userId: string, label: string): Promise<TotpSetup> {
    if (await this.enabled(userId)) throw new VigilError('TOTP_ALREADY_ENABLED');
    const secret = base32(randomBytes(20));
    const pending = {
      secret: this.seal(userId, secret),
      confirmed: false,
      createdAt: new Date(),
      lastTimeStep: 0,
      recoveryCodes: [],
    };
    // Two setups at once both try to insert; the loser replaces the winner's pending one, or finds it confirmed.
    for (let attempt = 0; ; attempt++) {
      try {
        await this.collection.replaceOne({ _id: userId, confirmed: false }, pending, { upsert: true });
        break;
      } catch (err) {
        if (!isDuplicateKey(err) || attempt > 0) throw err;
        if (await this.enabled(userId)) throw new VigilError('TOTP_ALREADY_ENABLED');
      }
    }
    const uri = generateURI({ issuer: this.issuer, label, secret, period: PERIOD_SECONDS });
    return { secret, uri, qrSvg: renderSVG(uri, { border: 2 }) };
  }

  /** Confirms a pending setup with its first code; answers the recovery codes (shown once). */
  async confirm(userId: string, code: string): Promise<string[]> {
    const doc = await this.collection.findOne({ _id: userId });
    if (!doc || doc.confirmed) throw new VigilError(doc ? 'TOTP_ALREADY_ENABLED' : 'TOTP_NOT_ENABLED');
    const step = await this.check(doc, code);
    if (step === undefined) throw new VigilError('MFA_CODE_INVALID');
    // One confirmation per setup: two at once would each store (and show) their own recovery codes.
    const once = `totp-confirm:{${userId}}:${doc.createdAt.getTime()}`;
    if (!(await this.firstUse(once))) throw new VigilError('MFA_CODE_INVALID');
    const codes = newRecoveryCodes();
    const done = await this.collection
      .updateOne(
        { _id: userId, confirmed: false, createdAt: doc.createdAt },
        { $set: { confirmed: true, confirmedAt: new Date(), lastTimeStep: step, recoveryCodes: codes.map(recoveryCodeDigest) } },
      )
      .catch(async (err: unknown) => {
        await this.redis.del(once); // not confirmed: the setup may be confirmed again
        throw err;
      });
    if (done.modifiedCount !== 1) throw new VigilError('MFA_CODE_INVALID');
    return codes;
  }

  /**
   * True once per valid code: the code's time step must be later than every one accepted before,
   * and with `notBeforeMs`, no earlier than the step that was current then (a code shown later).
   */
  async verify(userId: string, code: string, notBeforeMs?: number): Promise<boolean> {
    const doc = await this.collection.findOne({ _id: userId });
    if (doc?.confirmed !== true) return false;
    const floor = notBeforeMs === undefined ? 0 : Math.floor(notBeforeMs / 1000 / PERIOD_SECONDS) - 1;
    const step = await this.check({ ...doc, lastTimeStep: Math.max(doc.lastTimeStep, floor) }, code);
    if (step === undefined) return false;
    if (!(await this.firstUse(`totp-step:{${userId}}:${step}`))) return false;
    const taken = await this.collection.updateOne(
      { _id: userId, confirmed: true, lastTimeStep: { $lt: step } },
      { $set: { lastTimeStep: step } },
    );
    return taken.modifiedCount === 1;
  }

  /** True once per recovery code. */
  async useRecoveryCode(userId: string, code: string): Promise<boolean> {
    const digest = recoveryCodeDigest(code);
    if (!(await this.firstUse(`totp-recovery:{${userId}}:${digest}`))) return false;
    const used = await this.collection.updateOne(
      { _id: userId, confirmed: true, recoveryCodes: digest },
      { $pull: { recoveryCodes: digest } },
    );
    return used.modifiedCount === 1;
  }

  /**
   * FerretDB applies a conditional update as read, then write: two requests presenting one code at
   * once could both see it unused and both succeed. The first to set this Redis key wins; the
   * stored state (last step, remaining recovery codes) then makes it permanent.
   */
  private async firstUse(key: string): Promise<boolean> {
    return (await this.redis.set(key, '1', 'EX', FIRST_USE_SECONDS, 'NX')) === 'OK';
  }

  async remove(userId: string): Promise<boolean> {
    return (await this.collection.deleteOne({ _id: userId })).deletedCount === 1;
  }

  private async check(doc: TotpDocument, code: string): Promise<number | undefined> {
    if (!/^\d{6}$/.test(code)) return undefined;
    // No step after the latest one the tolerance reaches can be shown yet; otplib throws for it
    // (a "not before" in the future, or a clock set back since a code was accepted): refuse instead.
    if (doc.lastTimeStep > Math.floor((Date.now() / 1000 + TOLERANCE_SECONDS) / PERIOD_SECONDS)) return undefined;
    const result = await verify({
      secret: this.open(doc),
      token: code,
      period: PERIOD_SECONDS,
      epochTolerance: TOLERANCE_SECONDS,
      ...(doc.lastTimeStep > 0 ? { afterTimeStep: doc.lastTimeStep } : {}),
    });
    return result.valid && 'timeStep' in result ? result.timeStep : undefined;
  }

  private seal(userId: string, secret: string): TotpDocument['secret'] {
    if (!this.cipher) return { plain: secret };
    return { sealed: Buffer.from(this.cipher.seal(Buffer.from(secret), `totp:${userId}`)).toString('base64') };
  }

  private open(doc: TotpDocument): string {
    if ('plain' in doc.secret) return doc.secret.plain;
    if (!this.cipher) throw new VigilError('INTERNAL', {}, { cause: new Error('a sealed TOTP secret but no VIGIL_MFA_KEYS') });
    return Buffer.from(this.cipher.open(Buffer.from(doc.secret.sealed, 'base64'), `totp:${doc._id}`)).toString();
  }
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 Base32 without padding: what authenticator apps take. */
export function base32(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}
