import type { AccountService } from '../identity/accounts/account-service.ts';
import type { BiometricService } from '../biometrics/biometric-service.ts';
import type { GatewayContext } from '../server/context.ts';
import type { Route } from '../server/http/route.ts';
import { staticPageRoutes } from '../server/http/static-pages.ts';
import type { GatewayModule } from '../server/gateway-module.ts';
import type { SessionService } from '../sessions/session-service.ts';
import { createRedis } from '../storage/redis.ts';
import { consoleRoutes } from './console-routes.ts';
import { LiveTrustEndpoint } from './live-trust-endpoint.ts';
import { TrustFeed } from './trust-feed.ts';

/** The console's page and assets: same-origin scripts only, never framed, never cached. */
function pageRoutes(): Route[] {
  const file = (name: string) => new URL(`./assets/${name}`, import.meta.url);
  return staticPageRoutes(
    [
      { path: '/console', type: 'text/html; charset=utf-8', file: file('console.html') },
      { path: '/console/app.js', type: 'text/javascript; charset=utf-8', file: file('console.js') },
      { path: '/console/app.css', type: 'text/css; charset=utf-8', file: file('console.css') },
    ],
    'The operator console (static; it calls the admin API with the admin token)',
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  );
}

export interface ConsoleModule extends GatewayModule {
  /** Where continuous verification reports verdicts for the live trust view. */
  readonly feed: TrustFeed;
}

/**
 * The operator console (VIGIL_CONSOLE): a page at /console over the admin API, plus the admin
 * endpoints it needs (lookup, sessions, audit, models) and the live trust stream.
 */
export function createConsoleModule(
  ctx: GatewayContext,
  deps: { accounts: AccountService; sessions: SessionService; biometrics: BiometricService },
): ConsoleModule {
  const subscriber = createRedis(ctx.config, 'vigil-console');
  subscriber.on('error', (err: Error) => ctx.logger.warn({ err: err.message }, 'console subscriber error'));
  const feed = new TrustFeed(ctx.redis, subscriber, ctx.config.REDIS_PREFIX, ctx.logger);
  const live = new LiveTrustEndpoint(feed, ctx.admin, ctx.logger);
  return {
    name: 'console',
    feed,
    routes: [...pageRoutes(), ...consoleRoutes({ ...deps, audit: ctx.audit, admin: ctx.admin })],
    start: () => feed.start(),
    mountWs(app) {
      live.mount(app);
    },
    async close() {
      live.close();
      await subscriber.quit().catch(() => subscriber.disconnect());
    },
  };
}
