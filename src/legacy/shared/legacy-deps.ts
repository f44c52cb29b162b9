import type { IdentityFlows, IdentityServices } from '../../identity/identity-module.ts';
import type { OwnerChanges } from '../../biometrics/assurance/owner-change.ts';
import type { BiometricService } from '../../biometrics/biometric-service.ts';
import type { LoginService } from '../../sessions/login-service.ts';
import type { SessionCore } from '../../sessions/sessions-module.ts';

/** The core services every dialect adapter calls; assembled in src/gateway/modules.ts. */
export interface LegacyDeps {
  identity: IdentityServices;
  flows: IdentityFlows;
  sessions: SessionCore;
  login: LoginService;
  /** Enrolment and verification of uploaded files (dialect A's make_model / check_user). */
  biometrics?: BiometricService;
  /** The fresh-proof rule make_model obeys like every other enrolment. */
  ownerChanges?: OwnerChanges;
}
