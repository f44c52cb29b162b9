import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';

/** A core ticket a dialect holds for its client, and optionally a digest of the code that earned it. */
export interface HeldProof {
  ticket: string;
  /** sha256(salt ‖ code), so the next step can require the same code again without storing it. */
  codeDigest?: string;
  salt?: string;
}

const digest = (salt: string, code: string) => createHash('sha256').update(`${salt}\u0000${code}`).digest('base64url');

/**
 * Proofs held between two steps of a legacy flow. A verified code earns a single-use core ticket,
 * but legacy clients carry no ticket: B checks a code, then resets by user id and the same code;
 * E checks an SMS, then signs up or changes a password by user id. The dialect keeps the ticket
 * in Redis under the subject the next step names (an email, a phone, an account id), never
 * longer than the ticket itself lives, and spends it through the core service that consumes it.
 */
export class HeldProofs {
  constructor(
    private readonly redis: Redis,
    private readonly namespace: string,
  ) {}

  private key(purpose: string, subject: string): string {
    return `legacy:${this.namespace}:proof:${purpose}:${subject}`;
  }

  /** Holds `ticket` for `subject`, replacing an earlier proof; `code` (if given) is kept only as a salted digest. */
  async hold(purpose: string, subject: string, ticket: string, ttlSeconds: number, code?: string): Promise<void> {
    const proof: HeldProof = { ticket };
    if (code !== undefined) {
      proof.salt = randomBytes(16).toString('base64url');
      proof.codeDigest = digest(proof.salt, code);
    }
    await this.redis.set(this.key(purpose, subject), JSON.stringify(proof), 'EX', Math.max(1, ttlSeconds));
  }

  async peek(purpose: string, subject: string): Promise<HeldProof | undefined> {
    const raw = await this.redis.get(this.key(purpose, subject));
    return raw ? (JSON.parse(raw) as HeldProof) : undefined;
  }

  /** Removes and returns the proof (GETDEL: two concurrent takers cannot both get it). */
  async take(purpose: string, subject: string): Promise<HeldProof | undefined> {
    const raw = await this.redis.getdel(this.key(purpose, subject));
    return raw ? (JSON.parse(raw) as HeldProof) : undefined;
  }

  async drop(purpose: string, subject: string): Promise<void> {
    await this.redis.del(this.key(purpose, subject));
  }

  /** Whether `code` is the one the proof was earned with (constant time). */
  static matchesCode(proof: HeldProof, code: string): boolean {
    if (!proof.codeDigest || !proof.salt) return false;
    const expected = Buffer.from(proof.codeDigest);
    const actual = Buffer.from(digest(proof.salt, code));
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }
}
