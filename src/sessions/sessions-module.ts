import type { RedisClient } from '../storage/redis.ts';
import type { AccountService } from '../identity/accounts/account-service.ts';
import type { DeviceStore } from '../identity/devices/device-store.ts';
import type { CodeRequests } from '../identity/codes/code-requests.ts';
import type { Tickets } from '../identity/codes/tickets.ts';
import type { PasswordHasher } from '../identity/credentials/password-hasher.ts';
import type { MfaFactors } from '../identity/credentials/mfa-factors.ts';
import { Lockout } from '../rate-limits/lockout.ts';
import { LocalRateLimit } from '../rate-limits/local-rate.ts';
import { internalCredential } from '../server/internal-auth.ts';
import { ConfigError } from '../config/config.ts';
import type { Config } from '../config/schema.ts';
import type { GatewayContext } from '../server/context.ts';
import type { Authenticator } from '../server/http/route.ts';
import type { GatewayModule } from '../server/gateway-module.ts';
import { connectRedis, createRedis } from '../storage/redis.ts';
import { ReplicatedWrites } from '../storage/replicated-writes.ts';
import { AccessTokens } from '../tokens/access-tokens.ts';
import { eddsaSigner } from '../tokens/jwt-signer.ts';
import { eddsaVerifier } from '../tokens/jwt-verifier.ts';
import { KeyRing } from '../tokens/key-ring.ts';
import { SigningKeyStore } from '../tokens/signing-key-store.ts';
import { tokenRoutes } from './token-routes.ts';
import { loginRoutes } from './login-routes.ts';
import { LoginService } from './login-service.ts';
import { MfaTickets } from './mfa-tickets.ts';
import { StepUpFactors } from '../identity/credentials/step-up-factors.ts';
import type { Principal } from '../server/http/principal.ts';
import { PrincipalResolver } from './principal-resolver.ts';
import { RefreshFamilies } from './refresh-family.ts';
import { RevocationBus } from './revocation-bus.ts';
import { createSessionMetrics, type SessionMetrics } from './session-metrics.ts';
import { SessionService } from './session-service.ts';
import { sessionRoutes } from './session-routes.ts';
import { SessionStore } from './session-store.ts';
import { enrolmentAuthenticator, userAuthenticator } from './user-authenticator.ts';

/** What other concerns use: identity (revoke on password change), sockets, legacy dialects. */
export interface SessionCore {
  module: GatewayModule;
  sessions: SessionService;
  /** `Authorization: Bearer <access token>` → Principal; the `auth` of user routes. */
  authenticator: Authenticator<Principal>;
  /** The same, also accepting a session that must still enrol a second factor (the factor routes). */
  enrolmentAuthenticator: Authenticator<Principal>;
  /** Token → Principal with the verified-token cache (socket upgrades, introspection). */
  resolver: PrincipalResolver;
  accessTokens: AccessTokens;
  keys: KeyRing;
  /** The revocation channel; `healthy` says whether revocations from other processes reach this one. */
  revocations: RevocationBus;
  metrics: SessionMetrics;
}

/** Session lifetimes from configuration, checked together so a bad combination is refused at start. */
export function sessionLifetimes(config: Config): { idleMs: number; absoluteMs: number } {
  const problems: string[] = [];
  if (config.VIGIL_SESSION_IDLE_TTL_SECONDS < config.VIGIL_ACCESS_TOKEN_TTL_SECONDS) {
    // Otherwise a session could idle out while its access token (possibly cached) still verifies.
    problems.push('VIGIL_SESSION_IDLE_TTL_SECONDS must be at least VIGIL_ACCESS_TOKEN_TTL_SECONDS');
  }
  if (config.VIGIL_SESSION_ABSOLUTE_TTL_SECONDS < config.VIGIL_SESSION_IDLE_TTL_SECONDS) {
    problems.push('VIGIL_SESSION_ABSOLUTE_TTL_SECONDS must be at least VIGIL_SESSION_IDLE_TTL_SECONDS');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    idleMs: config.VIGIL_SESSION_IDLE_TTL_SECONDS * 1000,
    absoluteMs: config.VIGIL_SESSION_ABSOLUTE_TTL_SECONDS * 1000,
  };
}

/**
 * Keys, access tokens, sessions, refresh families and revocation: everything about "who is
 * logged in" that does not need the account store. Built before identity, which takes the
 * authenticator and session service; the login routes come after identity (createLoginModule below).
 */
export function createSessionCore(ctx: GatewayContext, options: { subscriberName?: string } = {}): SessionCore {
  const { config, logger, redis, audit, mongo, clock } = ctx;
  const { idleMs, absoluteMs } = sessionLifetimes(config);

  const keys = config.VIGIL_JWT_PRIVATE_KEYS
    ? KeyRing.fromConfig(config.VIGIL_JWT_PRIVATE_KEYS, redis, logger)
    : KeyRing.fromStore(
        new SigningKeyStore(
          mongo.db,
          config.VIGIL_JWT_KEY_ENCRYPTION_KEY ? Buffer.from(config.VIGIL_JWT_KEY_ENCRYPTION_KEY, 'base64url') : undefined,
        ),
        redis,
        logger,
        { graceSeconds: config.VIGIL_JWT_KEY_GRACE_SECONDS, pollMs: config.VIGIL_JWT_KEYS_POLL_MS },
      );
  const accessTokens = new AccessTokens(
    eddsaSigner(keys),
    eddsaVerifier(keys, {
      issuer: config.VIGIL_JWT_ISSUER,
      audience: config.VIGIL_JWT_AUDIENCE,
      typ: 'at+jwt',
      clockToleranceSeconds: config.VIGIL_JWT_CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ['sub', 'sid', 'jti'],
      clock,
    }),
    {
      issuer: config.VIGIL_JWT_ISSUER,
      audience: config.VIGIL_JWT_AUDIENCE,
      ttlSeconds: config.VIGIL_ACCESS_TOKEN_TTL_SECONDS,
      clock,
    },
  );

  const subscriber: RedisClient = createRedis(config, options.subscriberName ?? 'vigil-revocations');
  subscriber.on('error', (err: Error) => logger.warn({ err: err.message }, 'revocation subscriber error'));
  const bus = new RevocationBus(redis, subscriber, config.REDIS_PREFIX, logger);
  const writes = ReplicatedWrites.fromConfig(redis, config);
  const store = new SessionStore(redis, config.REDIS_PREFIX, idleMs, absoluteMs, writes, clock);
  const families = new RefreshFamilies(redis, idleMs, config.VIGIL_REFRESH_GRACE_MS, writes, clock);
  const metrics = createSessionMetrics(ctx.metrics.registry, {
    cacheSize: () => resolver.cacheSize, // read on scrape, after the resolver below exists
    channelUp: () => bus.healthy,
  });
  const sessions = new SessionService(redis, store, families, accessTokens, bus, audit, metrics, clock);
  const resolver = new PrincipalResolver(
    accessTokens,
    sessions,
    bus,
    keys,
    {
      cacheMax: config.VIGIL_TOKEN_CACHE_MAX,
      clockToleranceSeconds: config.VIGIL_JWT_CLOCK_TOLERANCE_SECONDS,
      clock,
      requireMfa: config.VIGIL_MFA_REQUIRE === 'everyone',
    },
    metrics,
  );
  // A rotation changes which keys verify until when: cached verifications are re-earned.
  keys.onChange(() => resolver.clearCache());
  const authenticator = userAuthenticator(resolver);
  const enrolment = enrolmentAuthenticator(resolver);

  if (config.VIGIL_JWT_KEY_GRACE_SECONDS < config.VIGIL_ACCESS_TOKEN_TTL_SECONDS) {
    logger.warn('VIGIL_JWT_KEY_GRACE_SECONDS is shorter than the access token TTL: a rotation cuts live tokens short');
  }

  const module: GatewayModule = {
    name: 'sessions',
    routes: [
      ...tokenRoutes({
        keys,
        resolver,
        sessions,
        admin: ctx.admin,
        introspection: {
          auth: internalCredential({
            endpoint: 'POST /v1/tokens/introspect',
            variable: 'VIGIL_INTROSPECTION_TOKEN',
            token: config.VIGIL_INTROSPECTION_TOKEN,
            production: config.NODE_ENV === 'production',
          }),
          limit: new LocalRateLimit(config.VIGIL_INTROSPECTION_PER_SECOND),
        },
        audit,
        graceSeconds: config.VIGIL_JWT_KEY_GRACE_SECONDS,
      }),
    ],
    async start() {
      await connectRedis(subscriber, 15_000);
      await bus.start();
      await keys.start();
    },
    async close() {
      keys.close();
      writes.close();
      await bus.close();
    },
  };
  return {
    module,
    sessions,
    authenticator,
    enrolmentAuthenticator: enrolment,
    resolver,
    accessTokens,
    keys,
    revocations: bus,
    metrics,
  };
}

/** What login needs from identity. */
export interface LoginDependencies {
  accounts: AccountService;
  devices: DeviceStore;
  hasher: PasswordHasher;
  codeRequests: CodeRequests;
  tickets: Tickets;
  mfaFactors: MfaFactors;
}

/** The login concern: its routes, and the service legacy dialects log in through. */
export interface LoginModule extends GatewayModule {
  login: LoginService;
  /** Authenticator-app factors (identity's, lent to tests and the step-up policy). */
  totp: MfaFactors['totp'];
  /** Socket step-ups proven by a second factor alone. */
  stepUp: StepUpFactors;
}

/**
 * POST /v1/sessions (password, code, ticket or passkey login, the second step) and the caller's
 * own sessions. Assembled after identity, whose accounts, devices and second factors it uses.
 */
export function createLoginModule(ctx: GatewayContext, core: SessionCore, identity: LoginDependencies): LoginModule {
  const { config } = ctx;
  const window = config.VIGIL_LOGIN_WINDOW_SECONDS;
  const { totp, passkeys, factors } = identity.mfaFactors;
  const perAccount = { limit: config.VIGIL_MFA_PER_ACCOUNT_HOURLY, windowSeconds: 3600 };
  const perIp = { limit: config.VIGIL_LOGIN_PER_IP, windowSeconds: window };
  const stepUp = new StepUpFactors({ factors, totp, passkeys, rateLimiter: ctx.rateLimiter, perAccount, perIp });
  const login = new LoginService({
    accounts: identity.accounts,
    hasher: identity.hasher,
    codeRequests: identity.codeRequests,
    tickets: identity.tickets,
    devices: identity.devices,
    sessions: core.sessions,
    rateLimiter: ctx.rateLimiter,
    lockout: new Lockout(ctx.redis, {
      maxFailures: config.VIGIL_LOCKOUT_MAX_FAILURES,
      windowSeconds: config.VIGIL_LOCKOUT_WINDOW_SECONDS,
      lockSeconds: config.VIGIL_LOCKOUT_SECONDS,
      maxLockSeconds: config.VIGIL_LOCKOUT_MAX_SECONDS,
      memorySeconds: config.VIGIL_LOCKOUT_MEMORY_SECONDS,
    }),
    audit: ctx.audit,
    logger: ctx.logger,
    limits: {
      perIp,
      perIdentifier: { limit: config.VIGIL_LOGIN_PER_IDENTIFIER, windowSeconds: window },
    },
    phoneRegion: config.VIGIL_PHONE_REGION,
    metrics: core.metrics,
    passkeys,
    requireSecondFactor: config.VIGIL_MFA_REQUIRE === 'everyone',
    secondFactor: {
      factors,
      tickets: new MfaTickets(ctx.redis, config.VIGIL_MFA_TICKET_TTL_SECONDS, config.VIGIL_MFA_MAX_ATTEMPTS),
      perAccount,
    },
  });
  return {
    name: 'login',
    login,
    totp,
    stepUp,
    routes: [
      ...loginRoutes({ login, profileFields: identity.accounts.profiles.fields }),
      ...sessionRoutes({
        sessions: core.sessions,
        auth: core.authenticator,
        logoutAuth: core.enrolmentAuthenticator,
        devices: identity.devices,
      }),
    ],
  };
}
