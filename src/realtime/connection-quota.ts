import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../storage/redis.ts';
import type { Logger } from '../observability/logger.ts';

/*
 * Per-user socket counts shared by every gateway process, so the limit means "per account",
 * not "per account per process". Layout:
 *   ws:{quota}:users:<userId>   hash  instanceId → sockets that process holds for the user
 *   ws:{quota}:instances        zset  instanceId → lease expiry (ms, Redis clock)
 * The admission script reads both, so they share one hash tag: on a Redis Cluster all quota
 * keys live in one slot (one master serves every admission).
 * Each process renews its lease every lease/3. A process that crashes stops renewing, and
 * its counts stop counting when its lease lapses (VIGIL_WS_CONNECTION_LEASE_SECONDS) — no
 * per-socket heartbeat, and no count is stranded forever.
 *
 * Admissions are batched: the upgrades that arrive in one event-loop turn are admitted by one
 * script call (ACQUIRE_BATCH), which takes them in arrival order exactly as that many ACQUIRE
 * calls would (Redis runs a script atomically), so two sockets of one account in a batch see
 * each other. A connect burst thus costs one Redis round trip, one socket write and one script
 * run per turn instead of per socket: that per-call overhead was most of admission's cost.
 * Releases are batched the same way, and a turn's releases are sent before its admissions, so a
 * client that closes and reconnects at its limit finds its slot free as it did unbatched.
 */

// Sums the live instances' counts for the user (dropping dead ones) and takes a slot if one is free.
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local counts = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #counts, 2 do
  local instance = counts[i]
  local score = redis.call('ZSCORE', KEYS[2], instance)
  if instance ~= ARGV[1] and (not score or tonumber(score) < now) then
    redis.call('HDEL', KEYS[1], instance)
  else
    total = total + tonumber(counts[i + 1])
  end
end
if total >= tonumber(ARGV[2]) then return {0, total} end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
return {1, total + 1}
`;

// ACQUIRE for KEYS[2..] in order; KEYS[1] is the lease zset. Returns admitted, count per key.
// An instance's liveness is looked up once per call: TIME and the zset do not change within it.
const ACQUIRE_BATCH = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[2])
local alive = {}
local out = {}
for k = 2, #KEYS do
  local counts = redis.call('HGETALL', KEYS[k])
  local total = 0
  for i = 1, #counts, 2 do
    local instance = counts[i]
    local live = alive[instance]
    if live == nil then
      local score = redis.call('ZSCORE', KEYS[1], instance)
      live = instance == ARGV[1] or (score ~= false and tonumber(score) >= now)
      alive[instance] = live
    end
    if live then
      total = total + tonumber(counts[i + 1])
    else
      redis.call('HDEL', KEYS[k], instance)
    end
  end
  if total >= limit then
    out[#out + 1] = 0
    out[#out + 1] = total
  else
    redis.call('HINCRBY', KEYS[k], ARGV[1], 1)
    out[#out + 1] = 1
    out[#out + 1] = total + 1
  end
end
return out
`;

const RELEASE = `
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if n <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
return n
`;

// RELEASE for every key given (a key given twice is released twice).
const RELEASE_BATCH = `
for k = 1, #KEYS do
  local n = redis.call('HINCRBY', KEYS[k], ARGV[1], -1)
  if n <= 0 then redis.call('HDEL', KEYS[k], ARGV[1]) end
end
return #KEYS
`;

const RENEW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return now
`;

const INSTANCES_KEY = 'ws:{quota}:instances';

interface QuotaCommands {
  vigilWsAcquire(users: string, instances: string, instance: string, limit: number): Promise<[number, number]>;
  vigilWsAcquireBatch(...keysThenArgs: Array<string | number>): Promise<number[]>;
  vigilWsRelease(users: string, instance: string): Promise<number>;
  vigilWsReleaseBatch(...keysThenArgs: Array<string | number>): Promise<number>;
  vigilWsRenew(instances: string, instance: string, leaseMs: number): Promise<number>;
}

export interface QuotaResult {
  admitted: boolean;
  /** Sockets the user holds across processes, including this one if admitted. */
  count: number;
}

interface Admission {
  userId: string;
  resolve(result: QuotaResult): void;
  reject(err: unknown): void;
}

export class ConnectionQuota {
  /** Identifies this process in Redis; random so a restarted process never inherits counts. */
  readonly instanceId = randomBytes(6).toString('hex');
  private readonly commands: QuotaCommands;
  private timer: NodeJS.Timeout | undefined;
  /** Releases that failed (Redis away); retried with each lease renewal. */
  private pendingReleases: string[] = [];
  /** Admissions waiting for this turn's batch call. */
  private queued: Admission[] = [];
  /** Releases waiting for this turn's batch call (user ids, repeated per socket). */
  private releasing: string[] = [];
  private flushScheduled = false;
  private readonly flush = () => this.flushTurn();

  /** `batch`: most admissions in one script call; 1 calls ACQUIRE once per admission. */
  constructor(
    private readonly redis: RedisClient,
    private readonly options: { limit: number; leaseSeconds: number; batch?: number },
    private readonly logger: Logger,
  ) {
    redis.defineCommand('vigilWsAcquire', { numberOfKeys: 2, lua: ACQUIRE });
    // The key count varies per call: it is passed as the first argument.
    redis.defineCommand('vigilWsAcquireBatch', { lua: ACQUIRE_BATCH });
    redis.defineCommand('vigilWsRelease', { numberOfKeys: 1, lua: RELEASE });
    redis.defineCommand('vigilWsReleaseBatch', { lua: RELEASE_BATCH });
    redis.defineCommand('vigilWsRenew', { numberOfKeys: 1, lua: RENEW });
    this.commands = redis as unknown as QuotaCommands;
  }

  get limit(): number {
    return this.options.limit;
  }

  async start(): Promise<void> {
    await this.renew();
    this.timer = setInterval(
      () => void this.renew().catch((err: unknown) => this.logger.warn({ err }, 'socket lease renewal failed')),
      (this.options.leaseSeconds * 1000) / 3,
    );
    this.timer.unref();
  }

  /** Graceful stop: this process's counts stop counting at once (its sockets are closing). */
  async retire(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.redis.zrem(INSTANCES_KEY, this.instanceId).catch(() => undefined);
  }

  acquire(userId: string): Promise<QuotaResult> {
    if ((this.options.batch ?? 1) <= 1) return this.acquireOne(userId);
    return new Promise<QuotaResult>((resolve, reject) => {
      this.queued.push({ userId, resolve, reject });
      this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // After the poll phase: every upgrade and close uWS delivered in this turn is queued by then.
    setImmediate(this.flush);
  }

  private async acquireOne(userId: string): Promise<QuotaResult> {
    const [admitted, count] = await this.commands.vigilWsAcquire(
      userKey(userId),
      INSTANCES_KEY,
      this.instanceId,
      this.options.limit,
    );
    return { admitted: admitted === 1, count };
  }

  private flushTurn(): void {
    this.flushScheduled = false;
    // Releases first: one connection runs commands in order, so this turn's admissions see them.
    const releasing = this.releasing;
    this.releasing = [];
    const max = this.options.batch ?? 1;
    for (let start = 0; start < releasing.length; start += max) this.releaseBatch(releasing.slice(start, start + max));
    const queued = this.queued;
    this.queued = [];
    for (let start = 0; start < queued.length; start += max) this.admitBatch(queued.slice(start, start + max));
  }

  private admitBatch(batch: Admission[]): void {
    const args: Array<string | number> = [batch.length + 1, INSTANCES_KEY];
    for (const admission of batch) args.push(userKey(admission.userId));
    args.push(this.instanceId, this.options.limit);
    this.commands.vigilWsAcquireBatch(...args).then(
      (out) => {
        for (let i = 0; i < batch.length; i++) batch[i]!.resolve({ admitted: out[2 * i] === 1, count: out[2 * i + 1]! });
      },
      (err: unknown) => {
        for (const admission of batch) admission.reject(err);
      },
    );
  }

  /** Never throws: a failed release is retried with the next lease renewal. */
  release(userId: string): void {
    if ((this.options.batch ?? 1) <= 1) {
      this.commands.vigilWsRelease(userKey(userId), this.instanceId).catch(() => this.pendingReleases.push(userId));
      return;
    }
    this.releasing.push(userId);
    this.scheduleFlush();
  }

  private releaseBatch(userIds: string[]): void {
    const args: Array<string | number> = [userIds.length];
    for (const userId of userIds) args.push(userKey(userId));
    args.push(this.instanceId);
    this.commands.vigilWsReleaseBatch(...args).catch(() => this.pendingReleases.push(...userIds));
  }

  private async renew(): Promise<void> {
    await this.commands.vigilWsRenew(INSTANCES_KEY, this.instanceId, this.options.leaseSeconds * 1000);
    if (this.pendingReleases.length > 0) {
      const retry = this.pendingReleases;
      this.pendingReleases = [];
      for (const userId of retry) this.release(userId);
    }
  }
}

function userKey(userId: string): string {
  return `ws:{quota}:users:${userId}`;
}
