import type { VerdictDecision } from '../../../protocol/biometrics.ts';
import type { TrustRange } from '../assurance/session-trust.ts';
import type { GenuineEvidenceStore, GenuineMark } from '../assurance/genuine-evidence.ts';
import { decide, type TrustConfig } from '../trust.ts';
import type { ContinuousConnection } from './continuous-connection.ts';

/** Where the session's trust is kept between sockets and processes (SessionTrustStore). */
export interface TrustMemory {
  mergeTrust(sessionId: string, delta: number, range: TrustRange): Promise<number>;
}

/** A standing whose windows paused this long reads the session back before it goes on (another process may have moved it). */
const RESYNC_AFTER_IDLE_MS = 5_000;

/** A session's evidence on this process: what the freshness policy (evidence-policy.ts) keeps per session. */
export interface EvidenceClock {
  /** By when the session must show evidence (epoch ms), as last written or read here; undefined: not watched here. */
  due: number | undefined;
  /** The latest evidence (a scored window) seen here. */
  last: number;
  /** The evidence time this process last wrote to the index (due = written + gap). */
  written: number;
  /** A check of the index is in flight. */
  checking: boolean;
}

/**
 * Where one session stands on this process: the trust every verification stream of every socket
 * of the session here adds its windows to, and the decision the policy acts on when it changes.
 * Shared, so that a socket or stream opened while trust was high and left idle cannot hand that
 * trust back later.
 *
 * Sockets of the session on other processes meet it through Redis, where each process adds what
 * its windows changed since it last heard (a merge, never an overwrite: a process that last saw
 * trust high would otherwise put it back over another's lower value) and takes back the merged
 * value. That happens when the decision changes, a stream opens or ends, a socket closes, and on
 * the first window after a pause: a socket parked on one process while the session fell on
 * another resumes from where the session stands, not from where it left it.
 */
export class SessionStanding {
  trust: number;
  /** What `trust` last read. A fresh session's, at first: a session already below `uncertain` triggers the policy with its first verdict. */
  decision: VerdictDecision;
  /** Sockets of the session on this process that hold this standing. */
  readonly holders = new Set<ContinuousConnection>();
  /** When the session must next show a scored window, as this process knows it (EvidencePolicy). */
  readonly evidence: EvidenceClock = { due: undefined, last: 0, written: 0, checking: false };
  /** The session's trust in Redis when this process last heard it: what our windows moved since is `trust − base`. */
  private base: number;
  private merging = false;
  private mergeAgain = false;
  /** Bumped by a restart: a merge sent before it must not bring old trust back. */
  private generation = 0;
  private lastScoredAt = Number.NEGATIVE_INFINITY;
  /** When the session last read genuine, for changing the model without re-entering a password. */
  private readonly genuine: GenuineMark | undefined;

  constructor(
    readonly userId: string,
    readonly sessionId: string,
    private readonly config: TrustConfig,
    private readonly memory: TrustMemory,
    stored: number | undefined,
    genuineEvidence?: GenuineEvidenceStore,
  ) {
    this.genuine = genuineEvidence?.mark(sessionId);
    this.trust = stored ?? config.initial;
    this.base = this.trust;
    this.decision = decide(config.initial, config);
  }

  /** A window of the session was scored: it now stands here. True when the decision changed. */
  scored(trust: number, decision: VerdictDecision, modelVersion: number): boolean {
    const now = performance.now();
    const resumed = now - this.lastScoredAt > RESYNC_AFTER_IDLE_MS;
    this.lastScoredAt = now;
    this.trust = trust;
    this.genuine?.scored(decision, modelVersion);
    if (decision === this.decision) {
      if (resumed) this.merge(true);
      return false;
    }
    this.decision = decision;
    this.merge(false);
    return true;
  }

  /** Adds this process's change to the session's trust in Redis (a stream ended, a socket closed). */
  persist(): void {
    this.merge(false);
  }

  /** Reads back where the session stands, adding this process's change (a stream opens). */
  refresh(): void {
    this.merge(true);
  }

  /** After a passed step-up: the session starts over (the policy stores it). */
  restart(): number {
    const { initial } = this.config;
    this.generation++;
    this.trust = initial;
    this.base = initial;
    this.decision = decide(initial, this.config);
    return initial;
  }

  private merge(evenIfUnchanged: boolean): void {
    if (this.merging) {
      this.mergeAgain = true;
      return;
    }
    const { floor, ceiling } = this.config;
    const sent = this.trust;
    // Reaching the floor (a replay, or impostor evidence all the way down) floors the session
    // whatever another process added meanwhile: the safe side.
    const delta = sent <= floor && this.base > floor ? floor - ceiling : sent - this.base;
    if (delta === 0 && !evenIfUnchanged) return;
    this.merging = true;
    const generation = this.generation;
    this.memory
      .mergeTrust(this.sessionId, delta, this.config)
      .then((merged) => {
        if (generation !== this.generation || !Number.isFinite(merged)) return;
        // Windows scored while the merge was on its way stay on top of it.
        this.trust = Math.min(ceiling, Math.max(floor, merged + (this.trust - sent)));
        this.base = merged;
      })
      .catch(() => {
        // Redis away: `trust − base` is still pending and goes with the next merge.
      })
      .finally(() => {
        this.merging = false;
        if (this.mergeAgain) {
          this.mergeAgain = false;
          this.merge(false);
        }
      });
  }
}

/** The standings of the sessions with a socket on this process. */
export class SessionStandings {
  private readonly live = new Map<string, SessionStanding>();

  constructor(
    private readonly config: TrustConfig,
    private readonly memory: TrustMemory,
    private readonly genuineEvidence?: GenuineEvidenceStore,
  ) {}

  /** The session's standing, shared with its other sockets here; `stored` (Redis) only starts a new one. */
  hold(holder: ContinuousConnection, stored: number | undefined): SessionStanding {
    const { userId, sessionId } = holder;
    let standing = this.live.get(sessionId);
    if (!standing)
      this.live.set(
        sessionId,
        (standing = new SessionStanding(userId, sessionId, this.config, this.memory, stored, this.genuineEvidence)),
      );
    standing.holders.add(holder);
    return standing;
  }

  /** A socket closed: its standing is written back, and forgotten with the session's last socket here. */
  release(standing: SessionStanding, holder: ContinuousConnection): void {
    standing.persist();
    standing.holders.delete(holder);
    if (standing.holders.size === 0 && this.live.get(standing.sessionId) === standing) this.live.delete(standing.sessionId);
  }

  get(sessionId: string): SessionStanding | undefined {
    return this.live.get(sessionId);
  }

  values(): IterableIterator<SessionStanding> {
    return this.live.values();
  }

  get size(): number {
    return this.live.size;
  }
}
