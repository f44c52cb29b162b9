import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { systemClock, type Clock } from '../time/clock.ts';

/** A live session as kept in Redis. Times are epoch ms. */
export interface SessionRecord {
  id: string;
  userId: string;
  /** Who minted it: 'core' for /v1/sessions, or a legacy dialect's name. */
  kind: string;
  createdAt: number;
  lastSeenAt: number;
  /** Absolute end: the session never lives past this, however active. */
  expiresAt: number;
  ip?: string;
  userAgent?: string;
  deviceId?: string;
  /** How the login proved the user (RFC 8176 values: pwd, otp, sms, mfa); carried as the tokens' `amr`. */
  amr?: string[];
}

export interface NewSession {
  userId: string;
  kind?: string;
  amr?: string[];
  ip?: string;
  userAgent?: string;
  deviceId?: string;
}

/**
 * Redis layout (every key under REDIS_PREFIX):
 *   sess:<id>          hash: uid kind created seen abs ip ua dev amr, and the refresh family
 *                      (fk = family key, rc = hash of the current refresh token, rp = the previous one)
 *                      TTL = min(idle TTL, time to absolute end), renewed on refresh
 *   usess:<userId>     sorted set of the user's session ids, scored by absolute end
 *   rg:<id>            the sealed pair answering a retry of the previous refresh token (grace)
 *   sattach:<id>       set of dialect token keys bound to the session, deleted with it
 *   uended:<userId>    present while the account's status forbids sessions (rejected, withdrawn):
 *                      a session that slipped past the revocation (a login racing it) is not live
 */
export const sessionKey = (id: string) => `sess:${id}`;
export const userSessionsKey = (userId: string) => `usess:${userId}`;
export const graceKey = (id: string) => `rg:${id}`;
export const attachedKey = (id: string) => `sattach:${id}`;
export const accountEndedKey = (userId: string) => `uended:${userId}`;

// The session's user, unless the session is gone or its account has ended. KEYS: sess.
// ARGV: the prefixed name of the ended-account key without the user id.
const LIVE_USER = `
local uid = redis.call('HGET', KEYS[1], 'uid')
if not uid then return false end
if redis.call('EXISTS', ARGV[1] .. uid) == 1 then return false end
return uid
`;

// Deletes sessions and their index entries; returns how many existed. KEYS: usess, then pairs
// of (sess, rg, sattach) per session; ARGV: the session ids. Attached dialect tokens go too.
const DELETE_SESSIONS = `
local removed = 0
for i = 1, #ARGV do
  local base = 1 + (i - 1) * 3
  local attached = redis.call('SMEMBERS', KEYS[base + 3])
  for _, key in ipairs(attached) do redis.call('DEL', key) end
  removed = removed + redis.call('DEL', KEYS[base + 1])
  redis.call('DEL', KEYS[base + 2], KEYS[base + 3])
  redis.call('ZREM', KEYS[1], ARGV[i])
end
return removed
`;

export function newSessionId(): string {
  return randomBytes(16).toString('base64url');
}

export const SESSION_ID_PATTERN = '^[A-Za-z0-9_-]{22}$';

export class SessionStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    readonly idleMs: number,
    readonly absoluteMs: number,
    private readonly clock: Clock = systemClock,
  ) {
    redis.defineCommand('vigilDeleteSessions', { lua: DELETE_SESSIONS });
    redis.defineCommand('vigilLiveUser', { numberOfKeys: 1, lua: LIVE_USER });
  }

  /** Creates a session (with its refresh family's fields, if it has one). */
  async create(input: NewSession, family?: Record<string, string>, id = newSessionId()): Promise<SessionRecord> {
    const now = this.clock.now();
    const record: SessionRecord = {
      id,
      userId: input.userId,
      kind: input.kind ?? 'core',
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + this.absoluteMs,
      ip: input.ip,
      userAgent: input.userAgent?.slice(0, 512),
      deviceId: input.deviceId,
    };
    if (input.amr?.length) record.amr = input.amr;
    const fields: Record<string, string | number> = {
      uid: record.userId,
      kind: record.kind,
      created: now,
      seen: now,
      abs: record.expiresAt,
    };
    if (record.ip) fields.ip = record.ip;
    if (record.userAgent) fields.ua = record.userAgent;
    if (record.deviceId) fields.dev = record.deviceId;
    if (record.amr) fields.amr = record.amr.join(' ');
    if (family) Object.assign(fields, family);
    const ttl = Math.min(this.idleMs, this.absoluteMs);
    const multi = this.redis
      .multi()
      .hset(sessionKey(record.id), fields)
      .pexpire(sessionKey(record.id), ttl)
      .zremrangebyscore(userSessionsKey(record.userId), '-inf', now)
      .zadd(userSessionsKey(record.userId), record.expiresAt, record.id)
      .pexpire(userSessionsKey(record.userId), this.absoluteMs);
    await multi.exec();
    return record;
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    return toRecord(id, await this.redis.hgetall(sessionKey(id)));
  }

  /** The session's user if it is live and its account has not ended (one Redis round trip), else undefined. */
  async liveUser(id: string): Promise<string | undefined> {
    const uid = await (this.redis as unknown as SessionCommands).vigilLiveUser(sessionKey(id), `${this.prefix}uended:`);
    return typeof uid === 'string' ? uid : undefined;
  }

  /** Marks the account ended for longer than any session it could still hold may live. */
  async endAccount(userId: string): Promise<void> {
    await this.redis.set(accountEndedKey(userId), '1', 'PX', this.absoluteMs + this.idleMs);
  }

  async reopenAccount(userId: string): Promise<void> {
    await this.redis.del(accountEndedKey(userId));
  }

  async accountEnded(userId: string): Promise<boolean> {
    return (await this.redis.exists(accountEndedKey(userId))) === 1;
  }

  /** The user's live sessions, newest first; index entries of ended sessions are cleaned up. */
  async listForUser(userId: string): Promise<SessionRecord[]> {
    const index = userSessionsKey(userId);
    const ids = await this.redis.zrange(index, '0', '-1');
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(sessionKey(id));
    const results = (await pipeline.exec()) ?? [];
    const live: SessionRecord[] = [];
    const gone: string[] = [];
    ids.forEach((id, i) => {
      const record = toRecord(id, results[i]?.[1] as Record<string, string> | undefined);
      if (record && record.userId === userId) live.push(record);
      else gone.push(id);
    });
    if (gone.length > 0) await this.redis.zrem(index, ...gone);
    return live.sort((a, b) => b.createdAt - a.createdAt);
  }

  /** The user's session ids in the index (live or not yet cleaned up). */
  async idsForUser(userId: string): Promise<string[]> {
    return this.redis.zrange(userSessionsKey(userId), '0', '-1');
  }

  /** Deletes sessions of one user; returns how many were still live. */
  async delete(userId: string, ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const keys = [userSessionsKey(userId), ...ids.flatMap((id) => [sessionKey(id), graceKey(id), attachedKey(id)])];
    return Number(await (this.redis as unknown as SessionCommands).vigilDeleteSessions(keys.length, ...keys, ...ids));
  }

  /** Records a dialect token key (already namespaced, e.g. "dtok:a:<hash>") as belonging to a session. */
  async attach(id: string, key: string, value: string, ttlMs: number): Promise<void> {
    await this.redis
      .multi()
      .set(key, value, 'PX', ttlMs)
      // The full key, prefix included: the delete script uses these names as they are.
      .sadd(attachedKey(id), `${this.prefix}${key}`)
      .pexpire(attachedKey(id), this.absoluteMs)
      .exec();
  }
}

interface SessionCommands {
  vigilDeleteSessions(numKeys: number, ...args: string[]): Promise<unknown>;
  vigilLiveUser(key: string, endedPrefix: string): Promise<unknown>;
}

function toRecord(id: string, hash: Record<string, string> | undefined): SessionRecord | undefined {
  if (!hash || !hash.uid) return undefined;
  const record: SessionRecord = {
    id,
    userId: hash.uid,
    kind: hash.kind ?? 'core',
    createdAt: Number(hash.created),
    lastSeenAt: Number(hash.seen),
    expiresAt: Number(hash.abs),
  };
  if (hash.ip) record.ip = hash.ip;
  if (hash.ua) record.userAgent = hash.ua;
  if (hash.dev) record.deviceId = hash.dev;
  if (hash.amr) record.amr = hash.amr.split(' ');
  return record;
}
