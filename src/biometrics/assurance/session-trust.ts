import type { RedisClient } from '../../storage/redis.ts';

/** A step-up a session has been asked for and not yet proven. */
export interface OwedStepUp {
  /** Logins (sessions created) from this moment on prove the holder (epoch ms). */
  requestedAt: number;
  reason: 'uncertain' | 'impostor';
  /** When the proof is due (epoch ms); a reconnect inherits it instead of getting a new one. */
  deadline: number;
}

// One hash tag per session: a new trust state clears the owed step-up in the same MULTI.
const stepUpKey = (sessionId: string) => `cv:stepup:{${sessionId}}`;
const trustKey = (sessionId: string) => `cv:trust:{${sessionId}}`;

/**
 * What continuous verification knows about a session, kept in Redis so that every socket and
 * stream of the session — on any gateway process — shares it: the trust the session stands at
 * and a step-up it owes. A thief who reopens streams or reconnects starts from where the
 * session stands, never from fresh trust; only a passed step-up resets it.
 */
export class SessionTrustStore {
  constructor(
    private readonly redis: RedisClient,
    /** How long the state is remembered: the session's longest life. */
    private readonly ttlSeconds: number,
  ) {}

  async owedStepUp(sessionId: string): Promise<OwedStepUp | undefined> {
    const raw = await this.redis.get(stepUpKey(sessionId));
    if (!raw) return undefined;
    try {
      const parsed = JSON.parse(raw) as Partial<OwedStepUp>;
      if (typeof parsed.requestedAt !== 'number') return undefined;
      return {
        requestedAt: parsed.requestedAt,
        reason: parsed.reason === 'uncertain' ? 'uncertain' : 'impostor',
        deadline: typeof parsed.deadline === 'number' ? parsed.deadline : parsed.requestedAt,
      };
    } catch {
      return undefined;
    }
  }

  async owe(sessionId: string, owed: OwedStepUp): Promise<void> {
    await this.redis.set(stepUpKey(sessionId), JSON.stringify(owed), 'EX', this.ttlSeconds);
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

  async setTrust(sessionId: string, trust: number): Promise<void> {
    await this.redis.set(trustKey(sessionId), String(trust), 'EX', this.ttlSeconds);
  }
}
