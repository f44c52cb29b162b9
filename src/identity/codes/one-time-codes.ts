import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { RedisClient } from '../../storage/redis.ts';
import { VigilError } from '../../../protocol/errors.ts';
import type { Channel } from '../../notify/notifier.ts';

/** What a code is for; a code issued for one purpose never verifies for another. */
export type CodePurpose = 'signup' | 'login' | 'reset' | 'verify' | 'withdraw';
export const CODE_PURPOSES: readonly CodePurpose[] = ['signup', 'login', 'reset', 'verify', 'withdraw'];

export interface CodeTarget {
  channel: Channel;
  /** Normalised destination: lower-case email or E.164 phone. */
  to: string;
  purpose: CodePurpose;
}

export interface OneTimeCodeOptions {
  /** Lifetime of a code for a target, in seconds. */
  ttlSeconds(target: CodeTarget): number;
  /** Wrong guesses after which the code is deleted (default 5). */
  maxAttempts: number;
  /** Seconds before another code may go to the same target (default 60). */
  resendSeconds: number;
}

export interface IssuedCode {
  /** Six digits; goes into the message and nowhere else (never stored, logged or returned). */
  code: string;
  expiresIn: number;
  resendIn: number;
}

// Reserves one attempt before the comparison, so concurrent guesses can never exceed the limit.
// Returns nil when there is no live code, else {salt, hash, attemptsUsed, maxAttempts}.
const RESERVE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
local used = redis.call('HINCRBY', KEYS[1], 'n', 1)
local fields = redis.call('HMGET', KEYS[1], 's', 'h', 'm')
return {fields[1], fields[2], used, tonumber(fields[3])}
`;
// Deletes the code only if it is still the one that was compared (a resend may have replaced it).
// Exactly one of several concurrent correct verifications gets 1.
const DELETE_IF = `
if redis.call('HGET', KEYS[1], 'h') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

// Gives back the attempt a correct check reserved, if the code is still the one compared: a
// check that keeps the code (spent later) must not wear it out by being retried.
const REFUND_IF = `
if redis.call('HGET', KEYS[1], 'h') == ARGV[1] then return redis.call('HINCRBY', KEYS[1], 'n', -1) end
return 0
`;

interface CodeCommands {
  vigilCodeReserve(key: string): Promise<[string, string, number, number] | null>;
  vigilCodeDeleteIf(key: string, hash: string): Promise<number>;
  vigilCodeRefundIf(key: string, hash: string): Promise<number>;
}

function digest(salt: string, target: CodeTarget, code: string): string {
  return createHash('sha256')
    .update(`${salt}\u0000${target.purpose}\u0000${target.channel}\u0000${target.to}\u0000${code}`)
    .digest('hex');
}

/**
 * Six-digit one-time codes in Redis: from a CSPRNG, stored only as a salted hash, bound to purpose
 * and destination, expiring, with a bounded number of attempts and a resend cooldown. Rate caps
 * per destination and per IP are the caller's (they depend on who asks); see code-requests.ts.
 */
export class OneTimeCodes {
  private readonly commands: CodeCommands;

  constructor(
    private readonly redis: RedisClient,
    private readonly options: OneTimeCodeOptions,
  ) {
    redis.defineCommand('vigilCodeReserve', { numberOfKeys: 1, lua: RESERVE });
    redis.defineCommand('vigilCodeDeleteIf', { numberOfKeys: 1, lua: DELETE_IF });
    redis.defineCommand('vigilCodeRefundIf', { numberOfKeys: 1, lua: REFUND_IF });
    this.commands = redis as unknown as CodeCommands;
  }

  private key(target: CodeTarget): string {
    // The code and its cooldown share a hash tag (one slot), so one DEL can clear both on a cluster.
    return `otp:{${target.purpose}:${target.channel}:${target.to}}`;
  }

  private cooldownKey(target: CodeTarget): string {
    return `otp:cool:{${target.purpose}:${target.channel}:${target.to}}`;
  }

  ttlFor(target: CodeTarget): number {
    return this.options.ttlSeconds(target);
  }

  /**
   * Starts the resend cooldown, or throws CODE_COOLDOWN if one is running. Separate from `issue`
   * so callers can claim the cooldown before spending their hourly quota.
   */
  async claimCooldown(target: CodeTarget): Promise<void> {
    const seconds = this.options.resendSeconds;
    if (seconds <= 0) return;
    const set = await this.redis.set(this.cooldownKey(target), '1', 'EX', seconds, 'NX');
    if (set === 'OK') return;
    const ttl = Math.max(1, await this.redis.ttl(this.cooldownKey(target)));
    throw new VigilError('CODE_COOLDOWN', { retryAfter: ttl }, { headers: { 'retry-after': String(ttl) } });
  }

  /** Creates a fresh code for the target, replacing any earlier one. */
  async issue(target: CodeTarget, ttlSeconds = this.ttlFor(target)): Promise<IssuedCode> {
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    const salt = randomBytes(16).toString('hex');
    const key = this.key(target);
    await this.redis
      .multi()
      .del(key)
      .hset(key, { s: salt, h: digest(salt, target, code), n: 0, m: this.options.maxAttempts })
      .expire(key, ttlSeconds)
      .exec();
    return { code, expiresIn: ttlSeconds, resendIn: this.options.resendSeconds };
  }

  /**
   * Checks a code and consumes it on success. Throws CODE_INVALID (wrong, expired, used — not
   * told apart, so nothing is learnt about the destination) or CODE_EXHAUSTED on the last allowed
   * wrong guess, after which the code is gone.
   */
  async verify(target: CodeTarget, code: string): Promise<void> {
    const stored = await this.compare(target, code);
    if ((await this.commands.vigilCodeDeleteIf(this.key(target), stored)) === 1) return;
    throw new VigilError('CODE_INVALID');
  }

  /**
   * Like `verify`, but keeps the code for a step that must stay retryable until it is done (a
   * password reset answered 503 half-way is asked again with the same code): a correct check
   * costs no attempt, and `spend` consumes the code, resolving false if it was spent or replaced
   * meanwhile. Wrong guesses count as in `verify`.
   */
  async check(target: CodeTarget, code: string): Promise<{ spend: () => Promise<boolean> }> {
    const key = this.key(target);
    const stored = await this.compare(target, code);
    await this.commands.vigilCodeRefundIf(key, stored);
    return { spend: async () => (await this.commands.vigilCodeDeleteIf(key, stored)) === 1 };
  }

  /** Reserves an attempt and compares; the stored hash when the code matches, else throws (see `verify`). */
  private async compare(target: CodeTarget, code: string): Promise<string> {
    const key = this.key(target);
    const reserved = await this.commands.vigilCodeReserve(key);
    if (!reserved) throw new VigilError('CODE_INVALID');
    const [salt, stored, used, max] = reserved;
    const candidate = Buffer.from(digest(salt, target, /^\d{6}$/.test(code) ? code : ''), 'hex');
    const expected = Buffer.from(stored, 'hex');
    const matches = used <= max && candidate.length === expected.length && timingSafeEqual(candidate, expected);
    if (matches) return stored;
    if (used >= max) {
      await this.commands.vigilCodeDeleteIf(key, stored);
      throw new VigilError('CODE_EXHAUSTED');
    }
    throw new VigilError(
      'CODE_INVALID',
      {},
      { details: [{ field: 'code', message: `wrong code; ${max - used} attempts left` }] },
    );
  }

  /** Forgets any live code and cooldown for the target (e.g. after the account it was for is gone). */
  async discard(target: CodeTarget): Promise<void> {
    await this.redis.del(this.key(target), this.cooldownKey(target));
  }
}
