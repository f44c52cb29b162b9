import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RedisClient } from '../../storage/redis.ts';
import type { RequestMeta } from '../../identity/accounts/account-service.ts';
import { enforceLimit } from '../../rate-limits/enforce-limit.ts';
import type { RateLimiter } from '../../rate-limits/rate-limiter.ts';
import type { GatewayContext } from '../../server/context.ts';
import { clientKey } from '../../rate-limits/client-key.ts';

/** A core ticket a dialect holds for its client, and optionally a digest of the code that earned it. */
export interface HeldProof {
  ticket: string;
  /** Digests of what the earning client presented: its source address, and its User-Agent and device id when sent. */
  address: string;
  agent?: string;
  device?: string;
  /** sha256(salt ‖ code), so the next step can require the same code again without storing it. */
  codeDigest?: string;
  salt?: string;
}

export interface HeldProofLimits {
  /** Claims per client address per hour, over every subject. */
  perClientHourly: number;
  /** Claims per subject (an email, a phone, an account) per hour, over every client. */
  perSubjectHourly: number;
  /** Claims by the earning client after which the proof dies (a wrong code counts). */
  maxAttempts: number;
}

const digest = (salt: string, text: string) => createHash('sha256').update(`${salt}\u0000${text}`).digest('base64url');

type ClientBinding = Pick<HeldProof, 'address' | 'agent' | 'device'>;

/**
 * Legacy clients carry nothing but what any HTTP client sends, so the proof is bound to that:
 * the source address as the gateway resolves it, plus the User-Agent and device id header when
 * the earning client sent them (a client that sends none is bound to its address alone). A
 * client elsewhere cannot spend it; one behind the same address presenting the same headers can
 * (docs/legacy.md states that residual risk).
 */
function bindingOf(meta: RequestMeta): ClientBinding {
  const binding: ClientBinding = { address: digest('address', meta.ip ?? '') };
  if (meta.userAgent) binding.agent = digest('agent', meta.userAgent);
  if (meta.deviceId) binding.device = digest('device', meta.deviceId);
  return binding;
}

/** Whether the claiming client presents everything the earning one did. */
function sameClient(held: ClientBinding, meta: RequestMeta): boolean {
  const claimant = bindingOf(meta);
  return (
    sameText(held.address, claimant.address) &&
    (held.agent === undefined || sameText(held.agent, claimant.agent ?? '')) &&
    (held.device === undefined || sameText(held.device, claimant.device ?? ''))
  );
}

// Counts one claim on a live proof; at the limit the proof is deleted. Returns the claim's number,
// or 0 when the proof is gone (never held, expired, spent or dead).
const COUNT_ATTEMPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
if attempts > tonumber(ARGV[1]) then redis.call('DEL', KEYS[1]); return 0 end
return attempts
`;

/**
 * Proofs held between two steps of a legacy flow. A verified code earns a single-use core ticket,
 * but legacy clients carry no ticket: B checks a code, then resets by user id and the same code;
 * E checks an SMS, then signs up or changes a password by user id. The dialect keeps the ticket
 * in Redis under the subject the next step names (an email, a phone, an account id), never
 * longer than the ticket itself lives, bound to the client that earned it, and spends it through
 * the core service that consumes it.
 *
 * Every claim is limited per client and per subject before anything is compared, and claims by
 * the earning client are counted on the proof: a guessed code gets `maxAttempts` tries in all.
 */
export class HeldProofs {
  constructor(
    private readonly redis: RedisClient,
    private readonly rateLimiter: RateLimiter,
    private readonly namespace: string,
    private readonly limits: HeldProofLimits,
  ) {
    redis.defineCommand('vigilHeldProofAttempt', { numberOfKeys: 1, lua: COUNT_ATTEMPT });
  }

  private key(purpose: string, subject: string): string {
    return `legacy:${this.namespace}:proof:${purpose}:${subject}`;
  }

  /** Holds `ticket` for `subject` and the client in `meta`, replacing an earlier proof; `code` is kept only as a salted digest. */
  async hold(
    purpose: string,
    subject: string,
    ticket: string,
    ttlSeconds: number,
    meta: RequestMeta,
    code?: string,
  ): Promise<void> {
    const proof: Record<string, string | number> = { ticket, ...bindingOf(meta), attempts: 0 };
    if (code !== undefined) {
      const salt = randomBytes(16).toString('base64url');
      proof.salt = salt;
      proof.codeDigest = digest(salt, code);
    }
    const key = this.key(purpose, subject);
    await this.redis.multi().del(key).hset(key, proof).expire(key, Math.max(1, ttlSeconds)).exec();
  }

  /**
   * The proof for `subject` if the client in `meta` earned it (and presents its code, when it
   * was held with one); otherwise undefined. Throws RATE_LIMITED before looking at anything.
   * The caller spends the ticket through the core, then `drop`s the proof.
   */
  async claim(purpose: string, subject: string, meta: RequestMeta, code?: string): Promise<HeldProof | undefined> {
    const { perClientHourly, perSubjectHourly, maxAttempts } = this.limits;
    await enforceLimit(this.rateLimiter, `legacy:proof:client:${clientKey(meta.ip)}`, {
      limit: perClientHourly,
      windowSeconds: 3600,
    });
    await enforceLimit(this.rateLimiter, `legacy:${this.namespace}:proof:subject:${purpose}:${subject}`, {
      limit: perSubjectHourly,
      windowSeconds: 3600,
    });
    const key = this.key(purpose, subject);
    const held = (await this.redis.hgetall(key)) as Partial<HeldProof>;
    if (!held.ticket || !held.address || !sameClient({ address: held.address, agent: held.agent, device: held.device }, meta))
      return undefined;
    const attempt = Number(await (this.redis as unknown as AttemptCommands).vigilHeldProofAttempt(key, maxAttempts));
    if (attempt === 0) return undefined;
    const proof: HeldProof = { ...held, ticket: held.ticket, address: held.address };
    if (code !== undefined && !HeldProofs.matchesCode(proof, code)) {
      if (attempt >= maxAttempts) await this.redis.del(key);
      return undefined;
    }
    return proof;
  }

  async drop(purpose: string, subject: string): Promise<void> {
    await this.redis.del(this.key(purpose, subject));
  }

  /** Whether `code` is the one the proof was earned with (constant time). */
  static matchesCode(proof: HeldProof, code: string): boolean {
    if (!proof.codeDigest || !proof.salt) return false;
    return sameText(proof.codeDigest, digest(proof.salt, code));
  }
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

interface AttemptCommands {
  vigilHeldProofAttempt(key: string, maxAttempts: number): Promise<unknown>;
}

/** A dialect's held proofs with the configured limits. */
export function heldProofsFor(ctx: GatewayContext, namespace: string): HeldProofs {
  const { config } = ctx;
  return new HeldProofs(ctx.redis, ctx.rateLimiter, namespace, {
    perClientHourly: config.VIGIL_LEGACY_PROOF_CHECKS_PER_CLIENT_HOURLY,
    perSubjectHourly: config.VIGIL_LEGACY_PROOF_CHECKS_PER_SUBJECT_HOURLY,
    maxAttempts: config.VIGIL_LEGACY_PROOF_MAX_ATTEMPTS,
  });
}
