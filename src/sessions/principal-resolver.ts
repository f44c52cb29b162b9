import { VigilError } from '../../protocol/errors.ts';
import type { AccessClaims, AccessTokens } from '../tokens/access-tokens.ts';
import { VerifiedTokenCache } from '../tokens/verified-token-cache.ts';
import type { Principal } from '../server/http/principal.ts';
import type { RevocationBus } from './revocation-bus.ts';
import type { SessionMetrics } from './session-metrics.ts';
import type { SessionService } from './session-service.ts';
import type { Clock } from '../time/clock.ts';

interface CachedPrincipal extends Principal {
  claims: AccessClaims;
  /** Token expiry, or earlier when its signing key retires first. */
  validUntil: number;
}

/** When tokens signed with a key stop verifying (epoch ms), so cached verifications end with them. */
export interface KeyDeadlines {
  verifyUntil(kid: string | undefined): number | undefined;
}

export type Introspection =
  | { active: true; claims: AccessClaims }
  /** `code` says why (TOKEN_EXPIRED, TOKEN_REVOKED, …). */
  | { active: false; code: string };

/**
 * Access token → Principal, for HTTP routes, socket upgrades and introspection alike: a valid
 * signature and claims AND a live session. Answers from the verified-token cache when it may:
 * revocations evict entries the moment they are published; while the revocation channel is
 * down the cache is bypassed, and it is cleared when the channel comes back or keys change.
 */
export class PrincipalResolver {
  private readonly cache: VerifiedTokenCache<CachedPrincipal>;
  /**
   * Verifications in progress by cache key: a device fleet reconnecting with one token (or a
   * burst of upgrades before the first answer is cached) verifies it once, not once per socket.
   */
  private readonly inFlight = new Map<string, Promise<{ principal: CachedPrincipal }>>();

  constructor(
    private readonly tokens: AccessTokens,
    private readonly sessions: SessionService,
    private readonly bus: RevocationBus,
    private readonly keys: KeyDeadlines,
    private readonly options: { cacheMax: number; clockToleranceSeconds: number; clock?: Clock; requireMfa?: boolean },
    private readonly metrics?: Pick<SessionMetrics, 'verifications'>,
  ) {
    this.cache = new VerifiedTokenCache(
      options.cacheMax,
      (tokens.ttlSeconds + options.clockToleranceSeconds + 1) * 1000,
      options.clock,
    );
    // A verification that started before a revocation may have read "live": later callers must
    // not join it (it is unknown which session a token in flight belongs to, so all are dropped).
    bus.onRevoked((event) => {
      this.cache.revokeSessions(event.sessionIds);
      this.inFlight.clear();
    });
    bus.onResync(() => {
      this.cache.clear();
      this.inFlight.clear();
    });
  }

  /** Drops every cached verification (the key set changed). */
  clearCache(): void {
    this.cache.clear();
    this.inFlight.clear();
  }

  get cacheSize(): number {
    return this.cache.size;
  }

  /**
   * A live session's principal. Under VIGIL_MFA_REQUIRE=everyone a token whose login took no
   * second factor is good for nothing but enrolling one (resolveForEnrolment).
   */
  async resolve(token: string): Promise<Principal> {
    const { principal } = await this.resolveCached(token);
    this.requireSecondFactor(principal.claims);
    return principal;
  }

  /** Like resolve, but a session that still has to enrol a second factor is fine (the enrolment routes). */
  async resolveForEnrolment(token: string): Promise<Principal> {
    return (await this.resolveCached(token)).principal;
  }

  /** The full verified claims (introspection answers with them). */
  async resolveClaims(token: string): Promise<AccessClaims> {
    const { claims } = (await this.resolveCached(token)).principal;
    this.requireSecondFactor(claims);
    return claims;
  }

  private requireSecondFactor(claims: AccessClaims): void {
    if (this.options.requireMfa && !claims.amr?.includes('mfa')) throw new VigilError('MFA_ENROLMENT_REQUIRED');
  }

  /** Never throws for a bad token: says whether it is active and, if not, which code applies. */
  async introspect(token: string): Promise<Introspection> {
    try {
      return { active: true, claims: await this.resolveClaims(token) };
    } catch (err) {
      if (err instanceof VigilError && (err.status === 401 || err.code === 'MFA_ENROLMENT_REQUIRED')) {
        return { active: false, code: err.code };
      }
      throw err;
    }
  }

  private resolveCached(token: string): Promise<{ principal: CachedPrincipal }> {
    const key = VerifiedTokenCache.keyOf(token);
    const trustCache = this.bus.healthy;
    if (!trustCache) return this.verify(token, key, false);
    const hit = this.cache.get(key);
    if (hit) {
      this.metrics?.verifications.inc({ outcome: 'cache_hit' });
      return Promise.resolve({ principal: hit });
    }
    const pending = this.inFlight.get(key);
    if (pending) {
      this.metrics?.verifications.inc({ outcome: 'joined' });
      return pending;
    }
    const verification = this.verify(token, key, true).finally(() => {
      if (this.inFlight.get(key) === verification) this.inFlight.delete(key);
    });
    this.inFlight.set(key, verification);
    return verification;
  }

  private async verify(token: string, key: string, trustCache: boolean): Promise<{ principal: CachedPrincipal }> {
    let claims: AccessClaims;
    try {
      claims = await this.tokens.verify(token);
      if (!(await this.sessions.isLive(claims.sid, claims.sub))) throw new VigilError('TOKEN_REVOKED');
    } catch (err) {
      if (err instanceof VigilError) this.metrics?.verifications.inc({ outcome: err.code });
      throw err;
    }
    this.metrics?.verifications.inc({ outcome: 'verified' });
    const keyUntil = this.keys.verifyUntil(claims.kid);
    const principal: CachedPrincipal = {
      userId: claims.sub,
      sessionId: claims.sid,
      tokenId: claims.jti,
      expiresAt: claims.exp,
      claims,
      validUntil: keyUntil === undefined ? claims.exp : Math.min(claims.exp, keyUntil / 1000),
    };
    if (trustCache && this.bus.healthy) this.cache.set(key, principal);
    return { principal };
  }
}
