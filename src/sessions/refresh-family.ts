import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RedisClient } from '../storage/redis.ts';
import { ReplicatedWrites } from '../storage/replicated-writes.ts';
import { deriveKey, open, seal } from '../crypto/sealed-box.ts';
import { graceKey, sessionKey } from './session-store.ts';
import { systemClock, type Clock } from '../time/clock.ts';

/** What a login or refresh hands the client. */
export interface TokenPair {
  tokenType: 'Bearer';
  accessToken: string;
  /** Epoch seconds. */
  accessTokenExpiresAt: number;
  /** Seconds from now, as OAuth clients expect. */
  expiresIn: number;
  refreshToken: string;
  /** Epoch seconds: the session's absolute end (idle expiry may come sooner). */
  refreshTokenExpiresAt: number;
}

export type RotationOutcome =
  /** Not a refresh token this gateway issued (malformed, or its MAC does not verify). */
  | { kind: 'unknown' }
  /** The session ended (expired, revoked); the token is dead with it. */
  | { kind: 'ended'; sessionId: string }
  | { kind: 'rotated'; sessionId: string; userId: string; pair: TokenPair }
  /** A retry of the previous token within the grace period: the same pair as the first answer. */
  | { kind: 'grace'; sessionId: string; userId: string; pair: TokenPair }
  /** An already-used token: theft is likely; the caller revokes the session. */
  | { kind: 'reused'; sessionId: string; userId: string };

/** Session-hash fields of a new family: its key and the hash of its first token. */
export interface FamilyFields {
  fk: string;
  rc: string;
}

// <session id>.<256 random bits>.<HMAC-SHA256 under the family key>, all base64url.
const TOKEN = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{43})$/;

export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

// One atomic step per presented token. KEYS: sess, rg. ARGV: presented hash, new hash
// ('' = do not rotate), now, sealed new pair, grace ms, idle ms.
// Rotating stores the new pair sealed under a key derived from the *presented* token, so only
// whoever holds that token can open it, and only for the grace period.
const ROTATE = `
local f = redis.call('HMGET', KEYS[1], 'uid', 'abs', 'rc', 'rp')
if not f[1] then return {'ended'} end
local now = tonumber(ARGV[3])
local abs = tonumber(f[2])
if abs <= now then return {'ended'} end
if f[3] == ARGV[1] then
  if ARGV[2] == '' then return {'retry', f[1]} end
  redis.call('HSET', KEYS[1], 'rc', ARGV[2], 'rp', ARGV[1], 'seen', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.min(tonumber(ARGV[6]), abs - now))
  if tonumber(ARGV[5]) > 0 then
    redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[5])
  else
    redis.call('DEL', KEYS[2])
  end
  return {'rotated', f[1]}
end
if f[4] == ARGV[1] then
  local sealed = redis.call('GET', KEYS[2])
  if sealed then return {'grace', f[1], sealed} end
end
return {'reused', f[1]}
`;

/**
 * Refresh tokens as a family per session: exactly one current token; presenting it rotates
 * (new refresh + access); presenting any earlier one is reuse, except the immediately previous
 * token within the grace period, which gets the very same pair again (a client retrying after
 * a lost response must not be mistaken for a thief, nor end up with two live pairs).
 *
 * A family costs the same however often it rotates: each token names its session and carries
 * an HMAC under the session's random family key, so an earlier token is recognised as ours
 * (reuse) without keeping every token ever issued. Only SHA-256 hashes of the current and the
 * previous token are stored; the random part of a token is never stored at all.
 */
export class RefreshFamilies {
  constructor(
    private readonly redis: RedisClient,
    private readonly idleMs: number,
    private readonly graceMs: number,
    /**
     * Replicas that must hold a rotation before it is answered (REDIS_WAIT_REPLICAS). Without
     * them a failover can lose an answered rotation, and the client's new token then looks
     * reused (theft) to the promoted replica, which ends the session.
     */
    private readonly writes = new ReplicatedWrites(redis, { replicas: 0, timeoutMs: 1 }),
    private readonly clock: Clock = systemClock,
  ) {
    writes.define('vigilRefreshRotate', { numberOfKeys: 2, lua: ROTATE });
  }

  /** A new family for a session about to be created: its first token and the fields to store. */
  newFamily(sessionId: string): { token: string; fields: FamilyFields } {
    const familyKey = randomBytes(32).toString('base64url');
    const token = mintToken(sessionId, familyKey);
    return { token, fields: { fk: familyKey, rc: hashRefreshToken(token) } };
  }

  /** The live session a token of its family (current or earlier) belongs to, if any. */
  async sessionOf(presented: string): Promise<{ sessionId: string; userId: string } | undefined> {
    const sessionId = TOKEN.exec(presented)?.[1];
    if (!sessionId) return undefined;
    const [userId, familyKey] = await this.redis.hmget(sessionKey(sessionId), 'uid', 'fk');
    if (!userId || !familyKey || !macMatches(presented, familyKey)) return undefined;
    return { sessionId, userId };
  }

  /**
   * Rotates `presented`. `mint` makes the next pair for the session around the given refresh
   * token (it is only called when the presented token is the current one).
   */
  async rotate(
    presented: string,
    mint: (
      session: { id: string; userId: string; expiresAt: number; amr?: string[] },
      refreshToken: string,
    ) => Promise<TokenPair>,
  ): Promise<RotationOutcome> {
    const sessionId = TOKEN.exec(presented)?.[1];
    if (!sessionId) return { kind: 'unknown' };
    const [userId, abs, current, familyKey, amr] = await this.redis.hmget(sessionKey(sessionId), 'uid', 'abs', 'rc', 'fk', 'amr');
    if (!userId || !abs || !familyKey) return { kind: 'ended', sessionId };
    // Not minted under this family's key: a forgery or garbage, which must not revoke anything.
    if (!macMatches(presented, familyKey)) return { kind: 'unknown' };

    const hash = hashRefreshToken(presented);
    let pair: TokenPair | undefined;
    let nextHash = '';
    let sealed = '';
    if (current === hash) {
      const refreshToken = mintToken(sessionId, familyKey);
      // The refreshed access token keeps the login's amr: refreshing proves nothing new.
      pair = await mint({ id: sessionId, userId, expiresAt: Number(abs), ...(amr ? { amr: amr.split(' ') } : {}) }, refreshToken);
      nextHash = hashRefreshToken(refreshToken);
      sealed = seal(graceKeyFor(presented, sessionId), JSON.stringify(pair), sessionId);
    }
    const now = this.clock.now();
    const [result] = (await this.writes.run(
      (pipeline) =>
        (pipeline as unknown as RotateCommands).vigilRefreshRotate(
          sessionKey(sessionId),
          graceKey(sessionId),
          hash,
          nextHash,
          now,
          sealed,
          this.graceMs,
          this.idleMs,
        ),
      // Presenting a token that is not current writes nothing: nothing to wait for.
      { waitForReplicas: nextHash !== '' },
    )) as [[string, string?, string?]];

    switch (result[0]) {
      case 'rotated':
        return { kind: 'rotated', sessionId, userId, pair: pair! };
      case 'grace': {
        const json = open(graceKeyFor(presented, sessionId), result[2]!, sessionId);
        // Cannot fail for the token it was sealed under; if it somehow does, treat as reuse.
        if (json === undefined) return { kind: 'reused', sessionId, userId };
        return { kind: 'grace', sessionId, userId, pair: JSON.parse(json) as TokenPair };
      }
      case 'retry':
        // The token became current between our read and the script: impossible for a token we
        // minted once, but harmless to answer by trying again.
        return this.rotate(presented, mint);
      case 'reused':
        return { kind: 'reused', sessionId, userId };
      default:
        return { kind: 'ended', sessionId };
    }
  }
}

function mintToken(sessionId: string, familyKey: string): string {
  const body = `${sessionId}.${randomBytes(32).toString('base64url')}`;
  return `${body}.${mac(body, familyKey)}`;
}

function mac(body: string, familyKey: string): string {
  return createHmac('sha256', Buffer.from(familyKey, 'base64url')).update(body).digest('base64url');
}

function macMatches(token: string, familyKey: string): boolean {
  const cut = token.lastIndexOf('.');
  const given = Buffer.from(token.slice(cut + 1), 'base64url');
  const expected = Buffer.from(mac(token.slice(0, cut), familyKey), 'base64url');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function graceKeyFor(presented: string, sessionId: string): Buffer {
  return deriveKey(presented, 'vigil refresh grace v1', sessionId);
}

interface RotateCommands {
  vigilRefreshRotate(...args: Array<string | number>): unknown;
}
