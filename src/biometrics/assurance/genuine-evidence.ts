import type { VerdictDecision } from '../../../protocol/biometrics.ts';
import type { RedisClient } from '../../storage/redis.ts';
import type { Clock } from '../../time/clock.ts';

/** The last time a session read `genuine`, and under which model version. */
export interface GenuineEvidence {
  /** Epoch ms (the gateway clock) of the last genuine window recorded. */
  at: number;
  modelVersion: number;
}

// A key of its own, not a field of `cv:trust:{sid}`: the trust value is written on other occasions.
const evidenceKey = (sessionId: string) => `cv:genuine:{${sessionId}}`;

function parseEvidence(raw: string | null): GenuineEvidence | undefined {
  if (raw === null) return undefined;
  try {
    const parsed = JSON.parse(raw) as Partial<GenuineEvidence>;
    if (typeof parsed.at !== 'number' || typeof parsed.modelVersion !== 'number') return undefined;
    return { at: parsed.at, modelVersion: parsed.modelVersion };
  } catch {
    return undefined;
  }
}

/**
 * Evidence from the current model that the person holding a session's device is its owner: kept per
 * session in Redis so that an HTTP request, any socket and any process read the same. Written when
 * the session's decision is or becomes `genuine` (at most once per `refreshMs` while it stays so, so
 * a streaming device costs no Redis write per window), deleted as soon as it reads anything else.
 */
export class GenuineEvidenceStore {
  constructor(
    private readonly redis: RedisClient,
    readonly clock: Clock,
    /** How long evidence is worth keeping: VIGIL_BIOMETRIC_PROOF_MAX_AGE_SECONDS. */
    private readonly ttlSeconds: number,
    /** How often a session that stays genuine rewrites its evidence. */
    readonly refreshMs: number,
  ) {}

  async read(sessionId: string): Promise<GenuineEvidence | undefined> {
    return parseEvidence(await this.redis.get(evidenceKey(sessionId)));
  }

  async record(sessionId: string, evidence: GenuineEvidence): Promise<void> {
    await this.redis.set(evidenceKey(sessionId), JSON.stringify(evidence), 'EX', this.ttlSeconds);
  }

  async clear(sessionId: string): Promise<void> {
    await this.redis.del(evidenceKey(sessionId));
  }

  /** What one session's standing on this process writes through. */
  mark(sessionId: string): GenuineMark {
    return new GenuineMark(this, sessionId);
  }
}

/**
 * One session's evidence as this process last wrote it. `scored` runs for every window; it touches
 * Redis only when the decision enters or leaves `genuine`, the model version changes, or the
 * evidence is `refreshMs` old.
 */
export class GenuineMark {
  /** undefined: not known yet on this process (the first window says). */
  private genuine: boolean | undefined;
  private writtenAt = Number.NEGATIVE_INFINITY;
  private version = 0;

  constructor(
    private readonly store: GenuineEvidenceStore,
    private readonly sessionId: string,
  ) {}

  scored(decision: VerdictDecision, modelVersion: number): void {
    if (decision !== 'genuine') {
      if (this.genuine === false) return;
      this.genuine = false;
      this.writtenAt = Number.NEGATIVE_INFINITY;
      this.store.clear(this.sessionId).catch(() => {
        this.genuine = undefined; // Redis away: the next non-genuine window deletes it
      });
      return;
    }
    const now = this.store.clock.now();
    if (this.genuine === true && modelVersion === this.version && now - this.writtenAt < this.store.refreshMs) return;
    this.genuine = true;
    this.version = modelVersion;
    this.writtenAt = now;
    this.store.record(this.sessionId, { at: now, modelVersion }).catch(() => {
      this.writtenAt = Number.NEGATIVE_INFINITY; // the next genuine window retries
    });
  }
}
