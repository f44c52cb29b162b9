import type { StepUpReason } from '../../../protocol/messages.ts';
import type { RedisClient } from '../../storage/redis.ts';

/** A step-up a session has been asked for and not yet proven. */
export interface OwedStepUp {
  /** Logins (sessions created) from this moment on prove the holder (epoch ms). */
  requestedAt: number;
  reason: StepUpReason;
  /** When the proof is due (epoch ms); a reconnect inherits it instead of getting a new one. */
  deadline: number;
}

/** A session that owes a step-up, as the deadline index names it. */
export interface DueSession {
  userId: string;
  sessionId: string;
}

// One hash tag per session: a new trust state clears the owed step-up in the same MULTI.
const stepUpKey = (sessionId: string) => `cv:stepup:{${sessionId}}`;
const trustKey = (sessionId: string) => `cv:trust:{${sessionId}}`;
/** Every owed step-up by deadline, so one can fall due with no socket of its session open. */
const DUE_KEY = 'cv:stepup-due';

/**
 * Adds a process's trust change to what the session stands at, within [floor, ceiling]: sockets of
 * one session on several processes each add their windows, and none overwrites the others'.
 * ARGV: delta, floor, ceiling, ttl seconds, initial (for a session never written). Returns the
 * new value as a string: a Lua number would reach the client truncated to an integer.
 */
const MERGE = `
local value = (tonumber(redis.call('GET', KEYS[1])) or tonumber(ARGV[5])) + tonumber(ARGV[1])
local floor, ceiling = tonumber(ARGV[2]), tonumber(ARGV[3])
if value < floor then value = floor elseif value > ceiling then value = ceiling end
local text = string.format('%.17g', value)
redis.call('SET', KEYS[1], text, 'EX', ARGV[4])
return text
`;

/** The range trust lives in, and where a session never written starts (TrustConfig). */
export interface TrustRange {
  floor: number;
  ceiling: number;
  initial: number;
}

interface TrustCommands {
  vigilTrustMerge(key: string, delta: string, floor: number, ceiling: number, ttl: number, initial: number): Promise<string>;
}

const dueMember = (userId: string, sessionId: string) => JSON.stringify([userId, sessionId]);

function parseOwed(raw: unknown): OwedStepUp | undefined {
  if (typeof raw !== 'string') return undefined;
  try {
    const parsed = JSON.parse(raw) as Partial<OwedStepUp>;
    if (typeof parsed.requestedAt !== 'number') return undefined;
    return {
      requestedAt: parsed.requestedAt,
      reason: parsed.reason === 'uncertain' || parsed.reason === 'silent' ? parsed.reason : 'impostor',
      deadline: typeof parsed.deadline === 'number' ? parsed.deadline : parsed.requestedAt,
    };
  } catch {
    return undefined;
  }
}

function parseDue(member: string): DueSession | undefined {
  try {
    const [userId, sessionId] = JSON.parse(member) as unknown[];
    return typeof userId === 'string' && typeof sessionId === 'string' ? { userId, sessionId } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What continuous verification knows about a session, kept in Redis so that every socket and
 * stream of the session — on any gateway process — shares it: the trust the session stands at
 * and a step-up it owes. A thief who reopens streams or reconnects starts from where the
 * session stands, never from fresh trust; only a passed step-up resets it.
 */
export class SessionTrustStore {
  private readonly commands: TrustCommands;

  constructor(
    private readonly redis: RedisClient,
    /** How long the state is remembered: the session's longest life. */
    private readonly ttlSeconds: number,
  ) {
    redis.defineCommand('vigilTrustMerge', { numberOfKeys: 1, lua: MERGE });
    this.commands = redis as unknown as TrustCommands;
  }

  async owedStepUp(sessionId: string): Promise<OwedStepUp | undefined> {
    return parseOwed(await this.redis.get(stepUpKey(sessionId)));
  }

  /**
   * Records a step-up the session owes and returns the one that stands: one already owed stays
   * as it is, so asking again (a reconnect, another socket) never moves the deadline later.
   */
  async owe(userId: string, sessionId: string, owed: OwedStepUp): Promise<OwedStepUp> {
    const key = stepUpKey(sessionId);
    const replies = await this.redis.multi().set(key, JSON.stringify(owed), 'EX', this.ttlSeconds, 'NX').get(key).exec();
    const standing = parseOwed(replies?.[1]?.[1]) ?? owed;
    // Another slot than the session's keys, so its own command; whoever reads the index checks the step-up key.
    await this.due(userId, sessionId, standing.deadline);
    return standing;
  }

  /** Indexes the session's step-up under its deadline (again, when it moved). */
  async due(userId: string, sessionId: string, deadline: number): Promise<void> {
    await this.redis.zadd(DUE_KEY, deadline, dueMember(userId, sessionId));
  }

  /**
   * Sessions whose step-up fell due at or before `dueBy` (epoch ms), at most `limit`; each is
   * handed to one caller only, whichever process takes it out of the index first. The step-up
   * itself may have been proven since: the caller reads it.
   */
  async claimDue(dueBy: number, limit: number): Promise<DueSession[]> {
    const members = await this.redis.zrangebyscore(DUE_KEY, '-inf', dueBy, 'LIMIT', 0, limit);
    const claimed: DueSession[] = [];
    for (const member of members) {
      if ((await this.redis.zrem(DUE_KEY, member)) !== 1) continue;
      const session = parseDue(member);
      if (session) claimed.push(session);
    }
    return claimed;
  }

  /** A passed step-up: nothing is owed and trust starts over at `initial`. */
  async passed(sessionId: string, initial: number): Promise<void> {
    await this.redis.multi().del(stepUpKey(sessionId)).set(trustKey(sessionId), String(initial), 'EX', this.ttlSeconds).exec();
  }

  /** The trust the session stands at, or undefined when no stream of it was ever scored. */
  async trust(sessionId: string): Promise<number | undefined> {
    const raw = await this.redis.get(trustKey(sessionId));
    const value = raw === null ? Number.NaN : Number(raw);
    return Number.isFinite(value) ? value : undefined;
  }

  /** Adds `delta` to the session's trust (clamped to `range`) and returns where it now stands. */
  async mergeTrust(sessionId: string, delta: number, range: TrustRange): Promise<number> {
    const { floor, ceiling, initial } = range;
    const merged = await this.commands.vigilTrustMerge(
      trustKey(sessionId),
      String(delta),
      floor,
      ceiling,
      this.ttlSeconds,
      initial,
    );
    return Number(merged);
  }
}
