import { Gauge } from 'prom-client';
import type { GatewayContext } from '../server/context.ts';
import type { GatewayModule } from '../server/gateway-module.ts';
import type { Authenticator } from '../server/http/route.ts';
import type { Principal } from '../server/http/principal.ts';
import { CodeRequests } from './codes/code-requests.ts';
import { codeRoutes } from './codes/code-routes.ts';
import { parseCodeTtls } from './codes/code-ttl.ts';
import { EmailLinks } from './codes/email-links.ts';
import { OneTimeCodes } from './codes/one-time-codes.ts';
import { Tickets } from './codes/tickets.ts';
import { bcryptConcurrency, libuvPoolSize, PasswordHasher } from './credentials/password-hasher.ts';
import { passwordRoutes } from './credentials/password-routes.ts';
import { PasswordService } from './credentials/password-service.ts';
import { PasswordChangeRetries } from './credentials/password-change-retries.ts';
import type { Notifier } from '../notify/notifier.ts';
import { statusEndsSessions } from './accounts/account.ts';
import { accountRoutes } from './accounts/account-routes.ts';
import { AccountService } from './accounts/account-service.ts';
import { AccountStore } from './accounts/account-store.ts';
import { DeviceStore } from './devices/device-store.ts';
import { parseProfileFields, ProfileValidator } from './accounts/profile-fields.ts';
import type { IdentitySessions } from './identity-sessions.ts';
import { Withdrawal } from './accounts/withdrawal.ts';
import { deviceRoutes } from './devices/device-routes.ts';
import { createMfaFactors, type MfaFactors } from './credentials/mfa-factors.ts';
import { outboxRoutes } from './codes/outbox-routes.ts';
import { DevOutbox } from '../notify/dev-outbox.ts';
import { auditRoutes } from './accounts/audit-routes.ts';

/** The identity services other concerns (sessions, legacy dialects) call. */
export interface IdentityServices {
  accounts: AccountService;
  devices: DeviceStore;
  /** `hasher.verifyPassword(account | null, password)`: constant-cost check for logins. */
  hasher: PasswordHasher;
  codes: OneTimeCodes;
  codeRequests: CodeRequests;
  tickets: Tickets;
  links: EmailLinks;
  notifier: Notifier;
  /** Authenticator apps and passkeys. */
  mfaFactors: MfaFactors;
}

/** Identity flows that end sessions: password change and reset, withdrawal. */
export interface IdentityFlows {
  passwords: PasswordService;
  withdrawal: Withdrawal;
}

/** What identity borrows from other concerns: delivery, and the session concern through its contract. */
export interface IdentityDependencies {
  notifier: Notifier;
  /** Ends sessions (password change, withdrawal, status changes, a forgotten device). */
  sessions: IdentitySessions;
  /** The session concern's bearer authenticator, guarding the caller's own routes. */
  userAuth: Authenticator<Principal>;
  /** The same, also accepting a session that must still enrol a second factor (the factor routes). */
  enrolmentAuth: Authenticator<Principal>;
}

export interface Identity {
  services: IdentityServices;
  flows: IdentityFlows;
  module: GatewayModule;
}

/**
 * Accounts, devices, one-time codes and passwords: one concern, built once. Start-up creates the
 * indexes; the module carries every identity route (accounts, codes, passwords, devices, the
 * caller's audit trail).
 */
export function createIdentity(ctx: GatewayContext, deps: IdentityDependencies): Identity {
  const { config, mongo, redis, audit, rateLimiter, logger } = ctx;
  const { notifier, sessions, userAuth, enrolmentAuth } = deps;
  const profiles = new ProfileValidator(parseProfileFields(config.VIGIL_PROFILE_FIELDS));
  const store = new AccountStore(mongo.db, redis);
  const devices = new DeviceStore(mongo.db);
  const hasher = new PasswordHasher(
    config.VIGIL_BCRYPT_COST,
    bcryptConcurrency(config.VIGIL_BCRYPT_CONCURRENCY, libuvPoolSize()),
    config.VIGIL_BCRYPT_QUEUE_MAX,
  );
  // How far behind password hashing is: a login storm shows here before it shows in latency.
  new Gauge({
    name: 'vigil_password_hash_waiting',
    help: 'Password checks and hashes waiting for a bcrypt slot (refused past VIGIL_BCRYPT_QUEUE_MAX)',
    registers: [ctx.metrics.registry],
    collect() {
      this.set(hasher.load.waiting);
    },
  });
  const tickets = new Tickets(redis, config.VIGIL_TICKET_TTL_SECONDS);
  const codes = new OneTimeCodes(redis, {
    ttlSeconds: parseCodeTtls(config.VIGIL_CODE_TTL_SECONDS),
    maxAttempts: config.VIGIL_CODE_MAX_ATTEMPTS,
    resendSeconds: config.VIGIL_CODE_RESEND_SECONDS,
  });
  const accounts = new AccountService({
    store,
    devices,
    hasher,
    tickets,
    profiles,
    audit,
    rateLimiter,
    logger,
    options: {
      phoneRegion: config.VIGIL_PHONE_REGION,
      defaultLocale: config.VIGIL_DEFAULT_LOCALE,
      requireVerification: config.VIGIL_REQUIRE_VERIFICATION,
      requireApproval: config.VIGIL_REQUIRE_APPROVAL,
      signupPerIpHourly: config.VIGIL_SIGNUP_PER_IP_HOURLY,
      availabilityPerIpPerMinute: config.VIGIL_AVAILABILITY_PER_IP_PER_MINUTE,
    },
  });
  const limits = {
    perDestinationHourly: config.VIGIL_CODE_HOURLY_PER_DESTINATION,
    perIpHourly: config.VIGIL_CODE_HOURLY_PER_IP,
    verifyPerIpHourly: config.VIGIL_CODE_VERIFY_PER_IP_HOURLY,
  };
  const codeRequests = new CodeRequests({ codes, tickets, accounts, notifier, rateLimiter, audit, logger, limits });
  const links = new EmailLinks({
    redis,
    accounts,
    notifier,
    rateLimiter,
    audit,
    logger,
    options: {
      ttlSeconds: config.VIGIL_VERIFY_LINK_TTL_SECONDS,
      publicUrl: config.VIGIL_PUBLIC_URL,
      resendSeconds: config.VIGIL_CODE_RESEND_SECONDS,
      perDestinationHourly: limits.perDestinationHourly,
      perIpHourly: limits.perIpHourly,
    },
  });

  // A new unverified account is sent what confirms it: a link by mail, else a code by SMS.
  accounts.onCreated(async ({ account, sendVerification, meta }) => {
    if (account.status !== 'unverified' || !sendVerification) return;
    if (account.email && notifier.canDeliver('email')) await links.send(account, {}, meta);
    else if (account.phone) await codeRequests.request({ channel: 'sms', to: account.phone, purpose: 'verify' }, meta);
  });

  const mfaFactors = createMfaFactors(ctx, { accounts, sessions, enrolmentAuth });
  const services: IdentityServices = { accounts, devices, hasher, codes, codeRequests, tickets, links, notifier, mfaFactors };
  const passwords = new PasswordService({
    accounts,
    hasher,
    codeRequests,
    tickets,
    sessions,
    retries: new PasswordChangeRetries(redis),
    audit,
    rateLimiter,
    checksPerUserHourly: config.VIGIL_PASSWORD_CHECKS_PER_USER_HOURLY,
    anonymousChecksPerUserHourly: config.VIGIL_PASSWORD_CHECKS_ANONYMOUS_PER_USER_HOURLY,
  });
  const withdrawal = new Withdrawal({ accounts, passwords, tickets, sessions, audit });
  // A status that forbids sessions ends them all, sockets included, in the same request.
  accounts.onStatusChanged(async ({ account, from, to }) => {
    if (statusEndsSessions(to)) await sessions.revokeAccount(account.id, { reason: `account ${to}`, block: true });
    else if (statusEndsSessions(from)) await sessions.reopenAccount(account.id);
  });

  return {
    services,
    flows: { passwords, withdrawal },
    module: {
      name: 'identity',
      routes: [
        ...accountRoutes({ accounts, links, withdrawal, userAuth, admin: ctx.admin }),
        ...codeRoutes({ codeRequests }),
        ...passwordRoutes({ passwords, userAuth }),
        ...deviceRoutes({ devices, sessions, audit, auth: userAuth }),
        ...auditRoutes({ audit, auth: userAuth }),
        // What was "sent" to an address, for development and tests; never in production.
        ...(config.VIGIL_DEV_OUTBOX && config.NODE_ENV !== 'production'
          ? outboxRoutes({ outbox: new DevOutbox(redis), phoneRegion: config.VIGIL_PHONE_REGION })
          : []),
        ...mfaFactors.routes,
      ],
      async start() {
        await store.ensureIndexes();
        await devices.ensureIndexes();
        await mfaFactors.start();
      },
    },
  };
}
