import type { GatewayContext } from '../server/context.ts';
import type { GatewayModule } from '../server/gateway-module.ts';
import { dialectA } from './a-realtime/a-routes.ts';
import { dialectB } from './b-spring/b-routes.ts';
import { dialectC } from './c-profile/c-module.ts';
import { dialectD } from './d-email/d-routes.ts';
import { dialectE } from './e-phone/e-routes.ts';
import { enabledDialects, type DialectName } from './shared/dialects.ts';
import type { LegacyDeps } from './shared/legacy-deps.ts';

export type { LegacyDeps };

type DialectFactory = (ctx: GatewayContext, deps: LegacyDeps) => GatewayModule;

const FACTORIES: Record<DialectName, DialectFactory> = {
  a: dialectA,
  b: dialectB,
  c: dialectC,
  d: dialectD,
  e: dialectE,
};

/**
 * The legacy dialects switched on by VIGIL_LEGACY_DIALECTS, one module each: thin adapters that
 * parse a legacy request, call the core services and shape the legacy answer (docs/legacy.md).
 * A dialect whose settings are missing refuses start-up here, naming the variable.
 */
export function createLegacyModules(ctx: GatewayContext, deps: LegacyDeps): GatewayModule[] {
  const modules: GatewayModule[] = [];
  for (const dialect of enabledDialects(ctx.config.VIGIL_LEGACY_DIALECTS)) {
    modules.push(FACTORIES[dialect](ctx, deps));
  }
  return modules;
}
