import type { StartOptions } from '../../../src/gateway/gateway.ts';
import { startTestGateway, type TestGateway } from '../../support/gateway.ts';

export const FUZZ_ADMIN_TOKEN = 'hardening-admin-token-0123456789abcdef';
export const FUZZ_B_SECRET = 'hardening-b-secret-'.padEnd(80, 'x');

/**
 * A gateway with everything switched on that a hostile client could reach: all five legacy
 * dialects, the admin API, the dev outbox, operator profile fields of every type (a `json` one
 * takes arbitrary objects into Mongo). Abuse limits are raised so the fuzzer reaches handlers
 * instead of 429s; the lockout after failed logins stays as shipped.
 */
export function startFuzzGateway(overrides: Record<string, string> = {}, options: StartOptions = {}): Promise<TestGateway> {
  return startTestGateway(
    {
      VIGIL_LEGACY_DIALECTS: 'a,b,c,d,e',
      VIGIL_LEGACY_B_JWT_SECRET: FUZZ_B_SECRET,
      VIGIL_LEGACY_PASSWORD_MIN_LENGTH: '4',
      VIGIL_ADMIN_TOKEN: FUZZ_ADMIN_TOKEN,
      VIGIL_DEV_OUTBOX: '1',
      VIGIL_DELIVERY_BACKOFF_MS: '50',
      VIGIL_PROFILE_FIELDS: JSON.stringify([
        { name: 'profession', type: 'string', maxLength: 40 },
        { name: 'height', type: 'number' },
        { name: 'children', type: 'integer' },
        { name: 'smoker', type: 'boolean' },
        { name: 'since', type: 'date' },
        { name: 'interests', type: 'string[]', maxLength: 20 },
        { name: 'extra', type: 'json' },
      ]),
      VIGIL_SIGNUP_PER_IP_HOURLY: '1000000',
      VIGIL_AVAILABILITY_PER_IP_PER_MINUTE: '1000000',
      VIGIL_CODE_HOURLY_PER_IP: '1000000',
      VIGIL_CODE_VERIFY_PER_IP_HOURLY: '1000000',
      VIGIL_CODE_HOURLY_PER_DESTINATION: '1000000',
      VIGIL_CODE_RESEND_SECONDS: '0',
      VIGIL_LOGIN_PER_IP: '1000000',
      VIGIL_LOGIN_PER_IDENTIFIER: '1000000',
      VIGIL_PASSWORD_CHECKS_PER_USER_HOURLY: '1000000',
      VIGIL_WS_MAX_CONNECTIONS_PER_USER: '1000',
      VIGIL_WS_MAX_MESSAGES_PER_SECOND: '100000',
      ...overrides,
    },
    options,
  );
}
