import { createHash } from 'node:crypto';
import type { RedisClient } from '../storage/redis.ts';
import { VigilError } from '../../protocol/errors.ts';
import type { AuditContext, AuditLog } from '../audit/audit-log.ts';
import type { AccessTokens } from '../tokens/access-tokens.ts';
import type { RefreshFamilies, TokenPair } from './refresh-family.ts';
import type { RevocationBus, RevocationListener } from './revocation-bus.ts';
import type { SessionMetrics } from './session-metrics.ts';
import { newSessionId, PartialSessionDeletion, type NewSession, type SessionRecord, type SessionStore } from './session-store.ts';
import { systemClock, type Clock } from '../time/clock.ts';
import { ReplicationTimeout } from '../storage/replicated-writes.ts';

export type { TokenPair } from './refresh-family.ts';
export type { SessionRecord, NewSession } from './session-store.ts';

export interface RevokeAllOptions {
  /** Keep this session (e.g. the one that changed the password). */
  exceptSessionId?: string;
  /** Why, for the audit trail and revocation listeners: password_changed, withdrawn, … */
  reason: string;
  audit?: AuditContext;
  /** Answer 503 (ReplicationTimeout) after revoking when too few replicas hold it: see `revoke`. */
  requireReplicas?: boolean;
}

export interface RevokeAccountOptions {
  /** Why, for the audit trail and revocation listeners (account rejected, account withdrawn, …). */
  reason: string;
  /**
   * Also refuse, from now on, any session of the account that slipped past this revocation (a
   * login racing it): for statuses that forbid sessions until an operator reopens the account.
   */
  block?: boolean;
  audit?: AuditContext;
}

/** Whether an account may keep its sessions: asked on every refresh (the account's real status). */
export type AccountGate = (userId: string) => Promise<boolean>;

/**
 * Sessions and their tokens: the one service every way of logging in goes through. Core logins
 * get an access + refresh pair; a legacy dialect may open a session without one and attach its
 * own token format (`attachToken`), which then lives and dies with the session.
 */
export class SessionService {
  constructor(
    private readonly redis: RedisClient,
    private readonly store: SessionStore,
    private readonly families: RefreshFamilies,
    private readonly tokens: AccessTokens,
    private readonly bus: RevocationBus,
    private readonly audit: AuditLog,
    private readonly metrics?: SessionMetrics,
    private readonly clock: Clock = systemClock,
  ) {}

  private accountGate: AccountGate | undefined;
  private readonly startListeners = new Set<(session: SessionRecord) => void>();
  /** Attached-token kinds introspection may answer for (dialect tokens that resource servers verify offline). */
  private readonly introspectable = new Set<string>();

  /** Sessions are built before accounts: the composition point hands the status check in here. */
  useAccountGate(gate: AccountGate): void {
    this.accountGate = gate;
  }

  /** Told of every new session, after it is stored (continuous verification's evidence policy). Listeners must not throw. */
  onStart(listener: (session: SessionRecord) => void): () => void {
    this.startListeners.add(listener);
    return () => this.startListeners.delete(listener);
  }

  /** A new session with its first access + refresh pair (POST /v1/sessions and dialects that use the core pair). */
  async start(input: NewSession): Promise<{ session: SessionRecord; tokens: TokenPair }> {
    const id = newSessionId();
    const family = this.families.newFamily(id);
    const session = await this.store.create(input, { ...family.fields }, id);
    this.started(session);
    return { session, tokens: await this.pairFor(session, family.token) };
  }

  /** A session without core tokens, for a dialect that attaches its own (`attachToken`). */
  async open(input: NewSession): Promise<SessionRecord> {
    return this.started(await this.store.create(input));
  }

  private started(session: SessionRecord): SessionRecord {
    for (const listener of this.startListeners) listener(session);
    return session;
  }

  /** Access token for a live session (a dialect that refreshes in its own way). */
  async issueAccessToken(session: Pick<SessionRecord, 'id' | 'userId' | 'expiresAt' | 'amr'>) {
    return this.tokens.issue(session.userId, session.id, Math.floor(session.expiresAt / 1000), session.amr);
  }

  /**
   * Rotates a refresh token. Reuse of an earlier token revokes the session (and so the whole
   * family) and throws REFRESH_TOKEN_REUSED; a retry within the grace period gets the same pair.
   */
  async refresh(
    refreshToken: string,
    audit: AuditContext = {},
  ): Promise<{ sessionId: string; userId: string; tokens: TokenPair }> {
    const outcome = await this.families.rotate(refreshToken, (session, next) => this.pairFor(session, next));
    this.metrics?.refreshes.inc({ outcome: outcome.kind });
    switch (outcome.kind) {
      case 'unknown':
        throw new VigilError('REFRESH_TOKEN_INVALID');
      case 'ended':
        throw new VigilError('TOKEN_REVOKED');
      case 'reused':
        await this.revokeIds(outcome.userId, [outcome.sessionId], 'refresh_reuse');
        await this.audit.record('token.reuse_detected', 'failure', {
          ...audit,
          userId: outcome.userId,
          sessionId: outcome.sessionId,
        });
        throw new VigilError('REFRESH_TOKEN_REUSED');
      case 'rotated':
      case 'grace':
        // A session of an account that may no longer hold one (rejected, withdrawn) ends here even
        // if its revocation was missed; the pair just rotated dies with it.
        if (this.accountGate && !(await this.accountGate(outcome.userId))) {
          await this.revokeIds(outcome.userId, [outcome.sessionId], 'account_ended');
          throw new VigilError('TOKEN_REVOKED');
        }
        await this.audit.record('token.refreshed', 'success', {
          ...audit,
          userId: outcome.userId,
          sessionId: outcome.sessionId,
          detail: { grace: outcome.kind === 'grace' },
        });
        return { sessionId: outcome.sessionId, userId: outcome.userId, tokens: outcome.pair };
    }
  }

  async get(sessionId: string): Promise<SessionRecord | undefined> {
    return this.store.get(sessionId);
  }

  /**
   * How long ago the login behind the session proved a credential, and how (RFC 8176 `amr`), for
   * changes that need a recent proof (the biometric owner, second factors). A session is created by
   * a login and a refresh keeps its creation time and methods, so refreshing proves nothing; an ended
   * session, or another account's, is infinitely old and proved nothing.
   */
  async loginProof(sessionId: string, userId: string): Promise<{ ageMs: number; methods: readonly string[] }> {
    const session = await this.store.get(sessionId);
    if (!session || session.userId !== userId) return { ageMs: Number.POSITIVE_INFINITY, methods: [] };
    return { ageMs: this.clock.now() - session.createdAt, methods: session.amr ?? [] };
  }

  /** Whether the session is live (and belongs to `userId`, when given). One Redis round trip. */
  async isLive(sessionId: string, userId?: string): Promise<boolean> {
    const owner = await this.store.liveUser(sessionId);
    return owner !== undefined && (userId === undefined || owner === userId);
  }

  async list(userId: string): Promise<SessionRecord[]> {
    return this.store.listForUser(userId);
  }

  /**
   * Ends one of the user's sessions; false if it was not live (or not theirs). With
   * `requireReplicas` (the caller asked for it and can ask again), a revocation that too few
   * replicas acknowledged in time throws ReplicationTimeout (503) once it is done, audited and
   * announced: a failover now could bring the session back, and the client's retry ends it again.
   * A session found gone waits for a barrier instead: the retry of a call answered 503 finds it so.
   */
  async revoke(
    userId: string,
    sessionId: string,
    reason: string,
    audit: AuditContext = {},
    options: { requireReplicas?: boolean } = {},
  ): Promise<boolean> {
    return (await this.revokeSessions(userId, [sessionId], reason, audit, options)).length > 0;
  }

  /**
   * Ends several of the user's sessions (a forgotten device's) as `revoke` ends one, but in one
   * deletion, one announcement and one wait for replicas; each ended session is audited. Resolves
   * with the ids of those that were live and the user's.
   */
  async revokeSessions(
    userId: string,
    sessionIds: readonly string[],
    reason: string,
    audit: AuditContext = {},
    options: { requireReplicas?: boolean } = {},
  ): Promise<string[]> {
    const live = await Promise.all(sessionIds.map((id) => this.isLive(id, userId)));
    const { removedIds, replicated } = await this.revokeIds(
      userId,
      sessionIds.filter((_, i) => live[i]),
      reason,
      audit,
    );
    await Promise.all(
      removedIds.map((sessionId) =>
        this.audit.record(revocationEvent(reason), 'success', { ...audit, userId, sessionId, detail: { reason } }),
      ),
    );
    const gone = sessionIds.filter((id) => !removedIds.includes(id));
    if (options.requireReplicas && !(replicated && (gone.length === 0 || (await this.store.endsReplicated(gone))))) {
      throw notReplicated();
    }
    return removedIds;
  }

  /**
   * Ends the session a refresh token belongs to, for clients that log out by presenting their
   * refresh token rather than an access token (RFC 7009 style). False when it names no live session.
   */
  async revokeByRefreshToken(refreshToken: string, reason: string, audit: AuditContext = {}): Promise<boolean> {
    const owner = await this.families.sessionOf(refreshToken);
    if (!owner) return false;
    return this.revoke(owner.userId, owner.sessionId, reason, { ...audit, sessionId: owner.sessionId });
  }

  /** Ends every session of the user (password change, reset, withdrawal, "log out everywhere"). */
  async revokeAllForUser(userId: string, options: RevokeAllOptions): Promise<number> {
    const ids = (await this.store.idsForUser(userId)).filter((id) => id !== options.exceptSessionId);
    const { removed, replicated } = await this.revokeIds(userId, ids, options.reason, options.audit);
    await this.audit.record('session.revoked', 'success', {
      ...options.audit,
      userId,
      detail: { reason: options.reason, count: removed, all: true },
    });
    // An earlier call answered 503 took its sessions off the user's index, so they are not among
    // `ids`: a barrier covers their deletions too.
    if (options.requireReplicas && !(replicated && (await this.store.allEndsReplicated(removed)))) throw notReplicated();
    return removed;
  }

  /**
   * Throws ReplicationTimeout (503) unless replicas hold every session deletion done so far: before
   * a client-facing revocation route refuses a token as revoked, which may be the retry of a
   * revocation answered 503 (it ended the token's own session, or all of the account's).
   */
  async requireEndsReplicated(): Promise<void> {
    if (!(await this.store.allEndsReplicated())) throw notReplicated();
  }

  /**
   * Ends the whole account's presence at once: every session (and so every refresh family, attached
   * dialect token and cached verification), and every socket of those sessions on every gateway
   * process (they close on the revocation event). With `block`, sessions that escape it are
   * refused too, until `reopenAccount`.
   */
  async revokeAccount(userId: string, options: RevokeAccountOptions): Promise<number> {
    if (options.block) await this.store.endAccount(userId);
    return this.revokeAllForUser(userId, { reason: options.reason, audit: options.audit });
  }

  /** The account may hold sessions again (an operator approved it after a rejection). */
  async reopenAccount(userId: string): Promise<void> {
    await this.store.reopenAccount(userId);
  }

  /** Listens for revocations from every gateway process (WebSocket sessions close on these). */
  onRevoked(listener: RevocationListener): () => void {
    return this.bus.onRevoked(listener);
  }

  /** Called when revocations may have been missed (pub/sub reconnected): re-check what you hold. */
  onResync(listener: () => void): () => void {
    return this.bus.onResync(listener);
  }

  /**
   * Binds a dialect's own token (opaque string, legacy JWT id…) to a live session. It resolves
   * through `resolveAttachedToken` until `ttlSeconds` pass or the session ends, whichever is first.
   */
  async attachToken(
    session: Pick<SessionRecord, 'id' | 'expiresAt'>,
    kind: string,
    token: string,
    ttlSeconds: number,
  ): Promise<void> {
    const ttlMs = Math.min(ttlSeconds * 1000, session.expiresAt - this.clock.now());
    if (ttlMs <= 0) throw new VigilError('TOKEN_REVOKED');
    await this.store.attach(session.id, attachedTokenKey(kind, token), session.id, ttlMs);
  }

  /** The live session a dialect token belongs to, or undefined. */
  async resolveAttachedToken(kind: string, token: string): Promise<SessionRecord | undefined> {
    const sessionId = await this.redis.get(attachedTokenKey(kind, token));
    const session = sessionId ? await this.store.get(sessionId) : undefined;
    return session && !(await this.store.accountEnded(session.userId)) ? session : undefined;
  }

  /** Lets introspection answer for tokens of `kind` (a dialect whose resource servers verify offline). */
  allowIntrospection(kind: string): void {
    this.introspectable.add(kind);
  }

  /**
   * The live session behind a dialect token of `kind` introspection may answer for, and when
   * its attachment ends (the token's own expiry, or the session's end if sooner). The attachment
   * is keyed by the token's hash and only the gateway writes it: a hit means we issued this exact
   * token and its session still stands.
   */
  async introspectAttached(kind: string, token: string): Promise<{ session: SessionRecord; expiresAt: number } | undefined> {
    if (!this.introspectable.has(kind)) return undefined;
    const key = attachedTokenKey(kind, token);
    const [[, sessionId], [, ttlMs]] = (await this.redis.multi().get(key).pttl(key).exec()) as [
      [unknown, string | null],
      [unknown, number],
    ];
    if (!sessionId) return undefined;
    const session = await this.store.get(sessionId);
    if (!session || (await this.store.accountEnded(session.userId))) return undefined;
    return { session, expiresAt: Math.floor((this.clock.now() + Math.max(0, ttlMs)) / 1000) };
  }

  /** Forgets one attached token (e.g. a legacy refresh token blacklisted on logout). */
  async detachToken(kind: string, token: string): Promise<void> {
    await this.redis.del(attachedTokenKey(kind, token));
  }

  private async revokeIds(
    userId: string,
    ids: string[],
    reason: string,
    audit: AuditContext = {},
  ): Promise<{ removed: number; removedIds: string[]; replicated: boolean }> {
    if (ids.length === 0) return { removed: 0, removedIds: [], replicated: true };
    // Announced once the master has done it: every process drops the sessions' cached tokens and
    // closes their sockets while the deletion still waits for replicas.
    let deletion: Awaited<ReturnType<SessionStore['delete']>>;
    try {
      deletion = await this.store.delete(userId, ids);
    } catch (err) {
      // Some may be gone already (a cluster's masters delete apart): announce them all, or their
      // sockets and cached tokens outlive them. A session still live is re-checked by the token
      // caches, but its sockets close: its owner asked to end it and is told to ask again.
      await this.bus.publish({ userId, sessionIds: ids, reason }).catch(() => undefined);
      if (!(err instanceof PartialSessionDeletion)) throw err;
      // Those it did delete are audited now: the retry finds them gone and cannot.
      this.metrics?.revokedSessions.inc(err.removedIds.length);
      await Promise.all(
        err.removedIds.map((sessionId) =>
          this.audit.record(revocationEvent(reason), 'success', {
            ...audit,
            userId,
            sessionId,
            detail: { reason, partial: true },
          }),
        ),
      );
      throw err.failure;
    }
    const { removed, removedIds, replicated } = deletion;
    this.metrics?.revokedSessions.inc(removed);
    await this.bus.publish({ userId, sessionIds: ids, reason });
    return { removed, removedIds, replicated: await replicated };
  }

  private async pairFor(
    session: Pick<SessionRecord, 'id' | 'userId' | 'expiresAt' | 'amr'>,
    refreshToken: string,
  ): Promise<TokenPair> {
    const access = await this.issueAccessToken(session);
    return {
      tokenType: 'Bearer',
      accessToken: access.token,
      accessTokenExpiresAt: access.expiresAt,
      expiresIn: access.expiresIn,
      refreshToken,
      refreshTokenExpiresAt: Math.floor(session.expiresAt / 1000),
    };
  }
}

function revocationEvent(reason: string): 'session.logout' | 'session.revoked' {
  return reason === 'logout' ? 'session.logout' : 'session.revoked';
}

function attachedTokenKey(kind: string, token: string): string {
  return `dtok:${kind}:${createHash('sha256').update(token).digest('base64url')}`;
}

function notReplicated(): ReplicationTimeout {
  return new ReplicationTimeout('Redis: the revocation was done but too few replicas acknowledged it in time');
}
