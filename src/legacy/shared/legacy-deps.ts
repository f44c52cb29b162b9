import type { IdentityFlows, IdentityServices } from '../../accounts/identity.ts';
import type { LoginService } from '../../sessions/login-service.ts';
import type { SessionCore } from '../../sessions/sessions-module.ts';

/** The core services every dialect adapter calls; assembled in src/server/modules.ts. */
export interface LegacyDeps {
  identity: IdentityServices;
  flows: IdentityFlows;
  sessions: SessionCore;
  login: LoginService;
}
