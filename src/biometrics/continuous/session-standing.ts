import type { VerdictDecision } from '../../../protocol/biometrics.ts';
import { decide, type TrustConfig } from '../trust.ts';
import type { ContinuousConnection } from './continuous-connection.ts';

/** Where the session's trust is kept between sockets and processes (SessionTrustStore). */
export interface TrustMemory {
  setTrust(sessionId: string, trust: number): Promise<void>;
}

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
 * trust back later. Written to Redis (for later sockets and other processes) when the decision
 * changes, a stream ends or a socket closes.
 */
export class SessionStanding {
  trust: number;
  /** What `trust` last read. A fresh session's, at first: a session already below `uncertain` triggers the policy with its first verdict. */
  decision: VerdictDecision;
  /** Sockets of the session on this process that hold this standing. */
  readonly holders = new Set<ContinuousConnection>();
  /** When the session must next show a scored window, as this process knows it (EvidencePolicy). */
  readonly evidence: EvidenceClock = { due: undefined, last: 0, written: 0, checking: false };
  /** The value last written to Redis. */
  private stored: number;

  constructor(
    readonly userId: string,
    readonly sessionId: string,
    private readonly config: TrustConfig,
    private readonly memory: TrustMemory,
    stored: number | undefined,
  ) {
    this.trust = stored ?? config.initial;
    this.stored = this.trust;
    this.decision = decide(config.initial, config);
  }

  /** A window of the session was scored: it now stands here. True when the decision changed. */
  scored(trust: number, decision: VerdictDecision): boolean {
    this.trust = trust;
    if (decision === this.decision) return false;
    this.decision = decision;
    this.persist();
    return true;
  }

  persist(): void {
    const trust = this.trust;
    if (trust === this.stored) return;
    this.stored = trust;
    this.memory.setTrust(this.sessionId, trust).catch(() => {
      // Redis away: this process still holds the value; the next write retries it.
      this.stored = Number.NaN;
    });
  }

  /** After a passed step-up: the session starts over (the policy stores it). */
  restart(): number {
    const { initial } = this.config;
    this.trust = initial;
    this.stored = initial;
    this.decision = decide(initial, this.config);
    return initial;
  }
}

/** The standings of the sessions with a socket on this process. */
export class SessionStandings {
  private readonly live = new Map<string, SessionStanding>();

  constructor(
    private readonly config: TrustConfig,
    private readonly memory: TrustMemory,
  ) {}

  /** The session's standing, shared with its other sockets here; `stored` (Redis) only starts a new one. */
  hold(holder: ContinuousConnection, stored: number | undefined): SessionStanding {
    const { userId, sessionId } = holder;
    let standing = this.live.get(sessionId);
    if (!standing)
      this.live.set(sessionId, (standing = new SessionStanding(userId, sessionId, this.config, this.memory, stored)));
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
