import type { GatewayContext } from '../server/context.ts';
import { TimeoutError, withTimeout } from '../server/timeouts.ts';
import type { GatewayModule } from '../server/gateway-module.ts';
import type { ScoringFaults } from '../biometrics/scoring-faults.ts';
import { createLoginModule, createSessionCore } from '../sessions/sessions-module.ts';
import { statusEndsSessions } from '../identity/accounts/account.ts';
import { createIdentity } from '../identity/identity-module.ts';
import { createNotify } from '../notify/notify-module.ts';
import { createRealtimeModule } from '../realtime/realtime-module.ts';
import { createLegacyModules } from '../legacy/legacy-module.ts';
import { createBiometrics } from '../biometrics/biometrics-module.ts';
import { createContinuousModule } from '../biometrics/continuous/continuous-module.ts';
import { createConsoleModule } from '../console/console-module.ts';
import { toVigilError } from '../storage/dependency-errors.ts';

/**
 * The one place where concerns are assembled and wired to each other. Read it top to bottom to
 * see what depends on what; each concern's own folder holds its logic, store access and tests.
 */
export async function assembleModules(
  ctx: GatewayContext,
  options: {
    /** Planted scoring faults: only a test gateway is given them (they crash real workers). */
    scoringFaults?: ScoringFaults | undefined;
  } = {},
): Promise<GatewayModule[]> {
  const modules: GatewayModule[] = [];

  // Tokens and sessions: keys, access/refresh tokens, revocation. `sessionCore.authenticator`
  // guards user routes; `sessionCore.sessions` revokes (revokeAllForUser) and publishes revocations.
  const sessionCore = createSessionCore(ctx);
  modules.push(sessionCore.module);

  // Identity: mail/SMS delivery, then accounts, codes and passwords. Login uses
  // `identity.services`; password change/reset and withdrawal revoke through the session core.
  const notify = createNotify(ctx);
  modules.push(notify.module);
  const identity = createIdentity(ctx, {
    notifier: notify.notifier,
    sessions: sessionCore.sessions,
    userAuth: sessionCore.authenticator,
    enrolmentAuth: sessionCore.enrolmentAuthenticator,
  });
  modules.push(identity.module);
  // Every refresh asks whether the account may still hold a session (rejected and withdrawn may
  // not; accounts are never deleted, withdrawal keeps the record, so only ids that never were an
  // account, such as a load test's, are unknown here).
  // While MongoDB is down the answer falls back to the ended-account mark in Redis (set by every
  // rejection and withdrawal), so refresh keeps working through a Mongo outage as before.
  sessionCore.sessions.useAccountGate(async (userId) => {
    let account;
    try {
      // Bounded well below the refresh grace period: a refresh answered late during a Mongo outage
      // (the driver waits 2 s to select a server) made a client's concurrent retry of the same
      // token look like reuse, which revokes the session.
      account = await withTimeout(identity.services.accounts.findById(userId), ACCOUNT_GATE_MS);
    } catch (err) {
      if (!(err instanceof TimeoutError) && toVigilError(err).code !== 'DEPENDENCY_UNAVAILABLE') throw err;
      ctx.logger.warn({ err: (err as Error).message }, 'account status unavailable at refresh; the ended-account mark decides');
      return true;
    }
    return account === null || !statusEndsSessions(account.status);
  });
  const login = createLoginModule(ctx, sessionCore, identity.services);
  modules.push(login);

  // Biometrics: enrolment, training jobs, model versions, batch verification, the
  // process's scoring pool. `biometrics.service` is what the socket channel and dialect A call.
  const biometrics = createBiometrics(ctx, {
    accounts: identity.services.accounts,
    authenticator: sessionCore.authenticator,
    sessions: sessionCore.sessions,
    notifier: notify.notifier,
    passwords: identity.flows.passwords,
    factors: login.stepUp,
    scoringFaults: options.scoringFaults,
  });
  modules.push(biometrics.module);

  // Realtime channel: GET /v1/stream. Authenticates sockets with the session core and
  // closes them on its revocations; continuous verification attaches to `realtime.channel`.
  const realtime = createRealtimeModule(ctx, { tokens: sessionCore.resolver, sessions: sessionCore.sessions });
  modules.push(realtime);

  // Operator console: a page over the admin API, with live trust fed by continuous verification.
  const operatorConsole = ctx.config.VIGIL_CONSOLE
    ? createConsoleModule(ctx, {
        accounts: identity.services.accounts,
        sessions: sessionCore.sessions,
        biometrics: biometrics.service,
      })
    : undefined;
  if (operatorConsole) modules.push(operatorConsole);

  // Continuous verification: scores socket streams through the biometric service's pool,
  // enrols over the socket, asks for step-up or revokes through the session core by policy.
  if (ctx.config.VIGIL_CV_ENABLED) {
    modules.push(
      createContinuousModule(ctx, {
        channel: realtime.channel,
        biometrics: biometrics.service,
        ownerChanges: biometrics.ownerChanges,
        sessionTrust: biometrics.sessionTrust,
        genuineEvidence: biometrics.genuineEvidence,
        replay: biometrics.replay,
        sessions: sessionCore.sessions,
        tokens: sessionCore.resolver,
        onVerdict: operatorConsole && ((userId, point) => operatorConsole.feed.publish(userId, point)),
        stepUpFactors: login.stepUp,
        sessionStarts: (listener) => sessionCore.sessions.onStart(listener),
      }),
    );
  }

  // Legacy dialects: the five documented auth APIs as thin adapters over the core
  // services above, each switched on by VIGIL_LEGACY_DIALECTS (docs/legacy.md).
  modules.push(
    ...createLegacyModules(ctx, {
      identity: identity.services,
      flows: identity.flows,
      sessions: sessionCore,
      login: login.login,
      biometrics: biometrics.service,
      ownerChanges: biometrics.ownerChanges,
    }),
  );

  return modules;
}

/** How long a refresh waits for the account's status before the Redis ended-account mark decides. */
const ACCOUNT_GATE_MS = 300;
