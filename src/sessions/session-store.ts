import { randomBytes } from 'node:crypto';
import { Cluster } from 'ioredis';
import type { RedisClient } from '../storage/redis.ts';
import { ReplicatedWrites } from '../storage/replicated-writes.ts';
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
 * Redis layout (every key under REDIS_PREFIX). The session id in braces is a hash tag: a
 * session's own keys share one hash slot, so the refresh rotation script and the deletion may
 * touch them together on a Redis Cluster; nothing writes keys of two sessions (or a session and
 * its user) in one command.
 *   sess:{<id>}        hash: uid kind created seen abs ip ua dev amr, and the refresh family
 *                      (fk = family key, rc = hash of the current refresh token, rp = the previous one)
 *                      TTL = min(idle TTL, time to absolute end), renewed on refresh
 *   rg:{<id>}          the sealed pair answering a retry of the previous refresh token (grace)
 *   sattach:{<id>}     set of dialect token keys bound to the session, deleted after it
 *   usess:<userId>     sorted set of the user's session ids, scored by absolute end
 *   uended:<userId>    present while the account's status forbids sessions (rejected, withdrawn):
 *                      a session that slipped past the revocation (a login racing it) is not live
 *   rbar:{<tag>}       a replication barrier, written and waited on to learn that replicas hold
 *                      earlier deletions of that slot's master (tag: a session id, or one per master)
 */
export const sessionKey = (id: string) => `sess:{${id}}`;
export const userSessionsKey = (userId: string) => `usess:${userId}`;
export const graceKey = (id: string) => `rg:{${id}}`;
export const attachedKey = (id: string) => `sattach:{${id}}`;
export const accountEndedKey = (userId: string) => `uended:${userId}`;
export const barrierKey = (tag: string) => `rbar:{${tag}}`;

// The session's user, unless the session is gone or its account has ended. KEYS: sess.
// ARGV: the prefixed name of the ended-account key without the user id. The ended mark lives in
// another hash slot, so a cluster cannot run this (SessionStore.liveUser asks in two steps there).
const LIVE_USER = `
local uid = redis.call('HGET', KEYS[1], 'uid')
if not uid then return false end
if redis.call('EXISTS', ARGV[1] .. uid) == 1 then return false end
return uid
`;

// Writes a new session hash and its expiry in one step. KEYS: sess. ARGV: ttl ms, then field/value pairs.
const CREATE_SESSION = `
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`;

// Deletes one session's keys; returns whether it existed, then its attached token keys (for the
// caller to delete: they hash to other slots). KEYS: sess, rg, sattach.
const DELETE_SESSION = `
local attached = redis.call('SMEMBERS', KEYS[3])
local existed = redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[2], KEYS[3])
return {existed, attached}
`;

export function newSessionId(): string {
  return randomBytes(16).toString('base64url');
}

export const SESSION_ID_PATTERN = '^[A-Za-z0-9_-]{22}$';

export class SessionStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    readonly idleMs: number,
    readonly absoluteMs: number,
    /** New and ended sessions wait until REDIS_WAIT_REPLICAS replicas hold them. */
    private readonly writes = new ReplicatedWrites(redis, { replicas: 0, timeoutMs: 1 }),
    private readonly clock: Clock = systemClock,
  ) {
    writes.define('vigilDeleteSession', { numberOfKeys: 3, lua: DELETE_SESSION });
    writes.define('vigilCreateSession', { numberOfKeys: 1, lua: CREATE_SESSION });
    redis.defineCommand('vigilLiveUser', { numberOfKeys: 1, lua: LIVE_USER });
    this.onCluster = redis instanceof Cluster;
  }

  private readonly onCluster: boolean;

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
    // The user's index first: a session missing from it would escape "end all my sessions".
    await this.redis
      .multi()
      .zremrangebyscore(userSessionsKey(record.userId), '-inf', now)
      .zadd(userSessionsKey(record.userId), record.expiresAt, record.id)
      .pexpire(userSessionsKey(record.userId), this.absoluteMs)
      .exec();
    await this.writes.run((pipeline) =>
      (pipeline as unknown as SessionPipeline).vigilCreateSession(sessionKey(record.id), ttl, ...Object.entries(fields).flat()),
    );
    return record;
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    return toRecord(id, await this.redis.hgetall(sessionKey(id)));
  }

  /** The session's user if it is live and its account has not ended (one Redis round trip), else undefined. */
  async liveUser(id: string): Promise<string | undefined> {
    if (this.onCluster) {
      const uid = await this.redis.hget(sessionKey(id), 'uid');
      return uid && !(await this.accountEnded(uid)) ? uid : undefined;
    }
    const uid = await (this.redis as unknown as SessionCommands).vigilLiveUser(sessionKey(id), `${this.prefix}uended:`);
    return typeof uid === 'string' ? uid : undefined;
  }

  /** Marks the account ended for longer than any session it could still hold may live. */
  async endAccount(userId: string): Promise<Replication> {
    const key = accountEndedKey(userId);
    const { replicated } = await this.writes.runThenWait(
      (pipeline) => pipeline.set(key, '1', 'PX', this.absoluteMs + this.idleMs),
      key,
    );
    return { replicated };
  }

  async reopenAccount(userId: string): Promise<void> {
    await this.redis.del(accountEndedKey(userId));
  }

  async accountEnded(userId: string): Promise<boolean> {
    return (await this.redis.exists(accountEndedKey(userId))) === 1;
  }

  /** The user's live sessions, newest first; index entries of ended sessions are cleaned up. One read per session (each in its own slot). */
  async listForUser(userId: string): Promise<SessionRecord[]> {
    const index = userSessionsKey(userId);
    const ids = await this.redis.zrange(index, '0', '-1');
    if (ids.length === 0) return [];
    const hashes = await Promise.all(ids.map((id) => this.redis.hgetall(sessionKey(id))));
    const live: SessionRecord[] = [];
    const gone: string[] = [];
    ids.forEach((id, i) => {
      const record = toRecord(id, hashes[i]);
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

  /**
   * Deletes sessions of one user; `removed` counts those still live (`removedIds`). Each session goes in one
   * step (its keys share a slot) and waits for REDIS_WAIT_REPLICAS replicas like a login, or a
   * failover could bring it back; its attached dialect tokens after it (they die with the session
   * anyway: resolving one reads the session), then its index entry. This answers once the master
   * has done it, so the caller announces it at once; `replicated` settles after the wait.
   * A WAIT covers every earlier write of its connection and holds that connection (shared with
   * logins and rotations) until it is answered: on one master every deletion goes in one pipeline
   * and waits once, however many sessions end. A cluster's sessions are spread over its masters,
   * so a failure there may come after other masters deleted theirs.
   */
  async delete(userId: string, ids: readonly string[]): Promise<Replication & { removed: number; removedIds: string[] }> {
    if (ids.length === 0) return { removed: 0, removedIds: [], replicated: Promise.resolve(true) };
    const deleteSession = (pipeline: unknown, id: string) =>
      (pipeline as SessionPipeline).vigilDeleteSession(sessionKey(id), graceKey(id), attachedKey(id));
    // Every master's part settles before a failure is thrown: the caller announces the revocation
    // then, and no master may still be about to delete a session that a re-check reads as live.
    const attempts = await Promise.allSettled(
      this.onCluster
        ? ids.map((id) => this.writes.runThenWait((pipeline) => deleteSession(pipeline, id), sessionKey(id)))
        : [this.writes.runThenWait((pipeline) => ids.forEach((id) => deleteSession(pipeline, id)), sessionKey(ids[0]!))],
    );
    const failed = attempts.find((attempt): attempt is PromiseRejectedResult => attempt.status === 'rejected');
    if (failed) {
      // The ids stay in the user's index: the retry finds them. On a cluster, the steps that
      // succeeded say which sessions are gone, so the caller can still audit them.
      const removedIds = this.onCluster
        ? ids.filter((_, i) => {
            const attempt = attempts[i]!;
            return attempt.status === 'fulfilled' && Number((attempt.value.values[0] as [number, string[]])[0]) === 1;
          })
        : [];
      throw removedIds.length > 0 ? new PartialSessionDeletion(failed.reason, removedIds) : failed.reason;
    }
    const steps = attempts.flatMap((attempt) => (attempt.status === 'fulfilled' ? [attempt.value] : []));
    // One result per id, in order: one step per session on a cluster, one pipeline in id order otherwise.
    const deleted = steps.flatMap((step) => step.values) as [number, string[]][];
    await Promise.all(deleted.flatMap(([, attached]) => attached.map((key) => this.redis.del(key))));
    await this.redis.zrem(userSessionsKey(userId), ...ids);
    const removedIds = ids.filter((_, i) => Number(deleted[i]![0]) === 1);
    return {
      removed: removedIds.length,
      removedIds,
      replicated: Promise.all(steps.map((step) => step.replicated)).then((each) => each.every(Boolean)),
    };
  }

  /**
   * Whether REDIS_WAIT_REPLICAS replicas hold every deletion of these sessions done so far, by any
   * call: for an answer that found them already gone (a retry after a 503 may have nothing left to
   * delete, so nothing of its own to wait for). A barrier on each session's master.
   */
  async endsReplicated(ids: readonly string[]): Promise<boolean> {
    return this.writes.barrier(ids.map(barrierKey));
  }

  /**
   * The same for every session whatever its id: a barrier on every master (sessions spread over
   * them). `justDeleted` sessions this call deleted and waited for: on a lone master, that one
   * WAIT already covered every earlier write.
   */
  async allEndsReplicated(justDeleted = 0): Promise<boolean> {
    if (justDeleted > 0 && !this.onCluster) return true;
    return this.writes.barrier(this.writes.everyMaster(barrierKey));
  }

  /** Records a dialect token key (already namespaced, e.g. "dtok:a:<hash>") as belonging to a session. */
  async attach(id: string, key: string, value: string, ttlMs: number): Promise<void> {
    // Listed before it exists, so deleting the session can never miss it.
    await this.redis.multi().sadd(attachedKey(id), key).pexpire(attachedKey(id), this.absoluteMs).exec();
    await this.redis.set(key, value, 'PX', ttlMs);
  }
}

/** A deletion that failed after some sessions were deleted (`removedIds`); `failure` is why. */
export class PartialSessionDeletion extends Error {
  override name = 'PartialSessionDeletion';
  constructor(
    readonly failure: unknown,
    readonly removedIds: string[],
  ) {
    super(`${removedIds.length} sessions were deleted before the deletion failed`, { cause: failure });
  }
}

/** Whether a write reached REDIS_WAIT_REPLICAS replicas in time (always true when that is 0): settles after the wait, never rejects. */
export interface Replication {
  replicated: Promise<boolean>;
}

interface SessionCommands {
  vigilLiveUser(key: string, endedPrefix: string): Promise<unknown>;
}

interface SessionPipeline {
  vigilCreateSession(key: string, ttlMs: number, ...fieldsAndValues: (string | number)[]): unknown;
  vigilDeleteSession(sess: string, grace: string, attached: string): unknown;
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
