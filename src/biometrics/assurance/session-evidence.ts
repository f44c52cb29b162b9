import type { RedisClient } from '../../storage/redis.ts';
import type { DueSession } from './session-trust.ts';

/**
 * Every session subject to the evidence-freshness policy, scored by the time it must next show a
 * scored window (epoch ms). Kept apart from the session's trust (`cv:trust:*`): one index, one
 * write per update, whoever else rewrites trust.
 */
const DUE_KEY = 'cv:evidence-due';

const member = (userId: string, sessionId: string) => JSON.stringify([userId, sessionId]);

function parse(raw: string): DueSession | undefined {
  try {
    const [userId, sessionId] = JSON.parse(raw) as unknown[];
    return typeof userId === 'string' && typeof sessionId === 'string' ? { userId, sessionId } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * When each session must next show evidence (a scored window), shared by every gateway process.
 * An entry leaves the index when it falls due and a sweep takes it: one whose session has ended
 * is dropped then, so entries live at most the evidence gap past their session.
 */
export class SessionEvidenceStore {
  constructor(private readonly redis: RedisClient) {}

  /**
   * The session must show evidence again by `dueBy`. Only ever moved later (GT, Redis 6.2+): a
   * process holding older evidence of the session cannot pull its deadline back.
   */
  async expect(userId: string, sessionId: string, dueBy: number): Promise<void> {
    await this.redis.zadd(DUE_KEY, 'GT', dueBy, member(userId, sessionId));
  }

  /** When the session must next show evidence; undefined when it is not indexed (never subject, or taken by a sweep). */
  async dueBy(userId: string, sessionId: string): Promise<number | undefined> {
    const score = await this.redis.zscore(DUE_KEY, member(userId, sessionId));
    return score === null ? undefined : Number(score);
  }

  /** Sessions due at or before `dueBy`, at most `limit`; each goes to whichever process removes it first. */
  async claimDue(dueBy: number, limit: number): Promise<DueSession[]> {
    const members = await this.redis.zrangebyscore(DUE_KEY, '-inf', dueBy, 'LIMIT', 0, limit);
    const claimed: DueSession[] = [];
    for (const raw of members) {
      if ((await this.redis.zrem(DUE_KEY, raw)) !== 1) continue;
      const session = parse(raw);
      if (session) claimed.push(session);
    }
    return claimed;
  }
}
