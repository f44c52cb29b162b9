import type { GatewayContext } from '../server/context.ts';
import type { GatewayModule } from '../server/modules.ts';
import type { Authenticator } from '../server/http/route.ts';
import type { Principal } from '../sessions/principal.ts';
import { CodeRequests } from '../codes/code-requests.ts';
import { codeRoutes } from '../codes/code-routes.ts';
import { parseCodeTtls } from '../codes/code-ttl.ts';
import { EmailLinks } from '../codes/email-links.ts';
import { OneTimeCodes } from '../codes/one-time-codes.ts';
import { Tickets } from '../codes/tickets.ts';
import { PasswordHasher } from '../credentials/password-hasher.ts';
import { passwordRoutes } from '../credentials/password-routes.ts';
import { PasswordService } from '../credentials/password-service.ts';
import type { Notifier } from '../notify/notifier.ts';
import { statusEndsSessions } from './account.ts';
import { accountRoutes } from './account-routes.ts';
import { AccountService } from './account-service.ts';
import { AccountStore } from './account-store.ts';
import { DeviceStore } from './device-store.ts';
import { parseProfileFields, ProfileValidator } from './profile-fields.ts';
import type { SessionRevoker } from './session-revoker.ts';
import { Withdrawal } from './withdrawal.ts';

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
}

/**
 * Builds the identity services (no routes yet: some routes need the session concern, which itself
 * needs these services for login). Start-up creates the indexes.
 */
export function createIdentity(ctx: GatewayContext, notifier: Notifier): { services: IdentityServices; module: GatewayModule } {
  const { config, mongo, redis, audit, rateLimiter, logger } = ctx;
  const profiles = new ProfileValidator(parseProfileFields(config.VIGIL_PROFILE_FIELDS));
  const store = new AccountStore(mongo.db, redis);
  const devices = new DeviceStore(mongo.db);
  const hasher = new PasswordHasher(config.VIGIL_BCRYPT_COST);
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

  return {
    services: { accounts, devices, hasher, codes, codeRequests, tickets, links, notifier },
    module: {
      name: 'identity',
      async start() {
        await store.ensureIndexes();
        await devices.ensureIndexes();
      },
    },
  };
}

/** Identity flows that end sessions, so they need the session concern (built after it). */
export interface IdentityFlows {
  passwords: PasswordService;
  withdrawal: Withdrawal;
}

export function createIdentityFlows(ctx: GatewayContext, services: IdentityServices, sessions: SessionRevoker): IdentityFlows {
  const { accounts, hasher, codeRequests, tickets } = services;
  const passwords = new PasswordService({
    accounts,
    hasher,
    codeRequests,
    tickets,
    sessions,
    audit: ctx.audit,
    rateLimiter: ctx.rateLimiter,
    checksPerUserHourly: ctx.config.VIGIL_PASSWORD_CHECKS_PER_USER_HOURLY,
    anonymousChecksPerUserHourly: ctx.config.VIGIL_PASSWORD_CHECKS_ANONYMOUS_PER_USER_HOURLY,
  });
  const withdrawal = new Withdrawal({ accounts, passwords, tickets, sessions, audit: ctx.audit });
  // A status that forbids sessions ends them all, sockets included, in the same request.
  accounts.onStatusChanged(async ({ account, from, to }) => {
    if (statusEndsSessions(to)) await sessions.revokeAccount(account.id, { reason: `account ${to}`, block: true });
    else if (statusEndsSessions(from)) await sessions.reopenAccount(account.id);
  });
  return { passwords, withdrawal };
}

/** The identity HTTP routes; `userAuth` is the session concern's bearer authenticator. */
export function identityRoutes(
  ctx: GatewayContext,
  services: IdentityServices,
  flows: IdentityFlows,
  userAuth: Authenticator<Principal>,
): GatewayModule {
  const { accounts, codeRequests, links } = services;
  return {
    name: 'identity-routes',
    routes: [
      ...accountRoutes({ accounts, links, withdrawal: flows.withdrawal, userAuth, admin: ctx.admin }),
      ...codeRoutes({ codeRequests }),
      ...passwordRoutes({ passwords: flows.passwords, userAuth }),
    ],
  };
}
