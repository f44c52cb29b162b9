import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { deriveKey, open, seal } from '../tokens/sealed-box.ts';
import { graceKey, refreshTokenKey, sessionKey } from './session-store.ts';

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

/** Opaque: 256 random bits. Only its SHA-256 is stored. */
export function newRefreshToken(): string {
  return randomBytes(32).toString('base64url');
}

export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

export type RotationOutcome =
  /** Not a refresh token of any live session. */
  | { kind: 'unknown' }
  /** The session ended (expired, revoked); the token is dead with it. */
  | { kind: 'ended'; sessionId: string }
  | { kind: 'rotated'; sessionId: string; userId: string; pair: TokenPair }
  /** A retry of the previous token within the grace period: the same pair as the first answer. */
  | { kind: 'grace'; sessionId: string; userId: string; pair: TokenPair }
  /** An already-used token: theft is likely; the caller revokes the session. */
  | { kind: 'reused'; sessionId: string; userId: string };

// One atomic step per presented token. KEYS: sess, rt:<new hash>, rg. ARGV: presented hash,
// new hash ('' = do not rotate), now, sealed new pair, grace ms, idle ms, session id.
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
  redis.call('SET', KEYS[2], ARGV[7], 'PX', abs - now)
  if tonumber(ARGV[5]) > 0 then
    redis.call('SET', KEYS[3], ARGV[4], 'PX', ARGV[5])
  else
    redis.call('DEL', KEYS[3])
  end
  return {'rotated', f[1]}
end
if f[4] == ARGV[1] then
  local sealed = redis.call('GET', KEYS[3])
  if sealed then return {'grace', f[1], sealed} end
end
return {'reused', f[1]}
`;

/**
 * Refresh tokens as a family per session: exactly one current token; presenting it rotates
 * (new refresh + access); presenting any earlier one is reuse, except the immediately previous
 * token within the grace period, which gets the very same pair again (a client retrying after
 * a lost response must not be mistaken for a thief, nor end up with two live pairs).
 */
export class RefreshFamilies {
  constructor(
    private readonly redis: Redis,
    private readonly idleMs: number,
    private readonly graceMs: number,
  ) {
    redis.defineCommand('vigilRefreshRotate', { numberOfKeys: 3, lua: ROTATE });
  }

  /**
   * Rotates `presented`. `mint` makes the next pair for the session (it is only called when
   * the token is the current one); nothing is stored in plaintext.
   */
  async rotate(
    presented: string,
    mint: (session: { id: string; userId: string; expiresAt: number }, refreshToken: string) => Promise<TokenPair>,
  ): Promise<RotationOutcome> {
    const hash = hashRefreshToken(presented);
    const sessionId = await this.redis.get(refreshTokenKey(hash));
    if (!sessionId) return { kind: 'unknown' };
    const [userId, abs, current] = await this.redis.hmget(sessionKey(sessionId), 'uid', 'abs', 'rc');
    if (!userId || !abs) return { kind: 'ended', sessionId };

    let pair: TokenPair | undefined;
    let nextHash = '';
    let sealed = '';
    if (current === hash) {
      const refreshToken = newRefreshToken();
      pair = await mint({ id: sessionId, userId, expiresAt: Number(abs) }, refreshToken);
      nextHash = hashRefreshToken(refreshToken);
      sealed = seal(this.graceKeyFor(presented, sessionId), JSON.stringify(pair), sessionId);
    }
    const result = (await (this.redis as unknown as RotateCommands).vigilRefreshRotate(
      sessionKey(sessionId),
      refreshTokenKey(nextHash || 'none'),
      graceKey(sessionId),
      hash,
      nextHash,
      Date.now(),
      sealed,
      this.graceMs,
      this.idleMs,
      sessionId,
    )) as [string, string?, string?];

    switch (result[0]) {
      case 'rotated':
        return { kind: 'rotated', sessionId, userId, pair: pair! };
      case 'grace': {
        const json = open(this.graceKeyFor(presented, sessionId), result[2]!, sessionId);
        // Cannot fail for the token it was sealed under; if it somehow does, treat as reuse.
        if (json === undefined) return { kind: 'reused', sessionId, userId };
        return { kind: 'grace', sessionId, userId, pair: JSON.parse(json) as TokenPair };
      }
      case 'retry':
        // Raced with our own pre-read (the token became current); try once more.
        return this.rotate(presented, mint);
      case 'reused':
        return { kind: 'reused', sessionId, userId };
      default:
        return { kind: 'ended', sessionId };
    }
  }

  private graceKeyFor(presented: string, sessionId: string): Buffer {
    return deriveKey(presented, 'vigil refresh grace v1', sessionId);
  }
}

interface RotateCommands {
  vigilRefreshRotate(...args: Array<string | number>): Promise<unknown>;
}
