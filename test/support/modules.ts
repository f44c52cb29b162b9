import type { BiometricsModule } from '../../src/biometrics/biometrics-module.ts';
import type { ContinuousModule } from '../../src/biometrics/continuous/continuous-module.ts';
import type { RealtimeModule } from '../../src/realtime/realtime-module.ts';
import type { LoginModule } from '../../src/sessions/sessions-module.ts';
import type { TestGateway } from './gateway.ts';

/** The concerns tests reach into, by the name each module is assembled under. */
interface ModulesByName {
  biometrics: BiometricsModule;
  continuous: ContinuousModule;
  realtime: RealtimeModule;
  login: LoginModule;
}

/**
 * A gateway's assembled concern, typed by its name: the one place test support looks modules up,
 * instead of a name-and-cast at every call site. Throws naming the module when the gateway has
 * none (continuous verification off, for instance).
 */
export function moduleOf<N extends keyof ModulesByName>(gw: TestGateway, name: N): ModulesByName[N] {
  const module = gw.gateway.modules.find((m) => m.name === name);
  if (!module) throw new Error(`the gateway has no ${name} module`);
  return module as ModulesByName[N];
}
