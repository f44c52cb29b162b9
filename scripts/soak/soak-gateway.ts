import { randomBytes } from 'node:crypto';
import { spawnChildGateway, type ChildGateway, TOOLS_METRICS_TOKEN } from '../child-gateway.ts';

export type SoakGateway = ChildGateway;

/**
 * The gateway under soak: `src/main.ts` as a child process in production mode (no per-reply
 * schema checks), on the local Redis and FerretDB (`scripts/services.sh`), with its own database
 * and key prefix, abuse limits raised so one IP can log in thousands of times, and continuous
 * verification off (sockets without a model would be refused verification streams; the channel
 * then validates, sequences and acknowledges every frame).
 */
export function spawnSoakGateway(perUser: number): Promise<SoakGateway> {
  return spawnChildGateway({
    NODE_ENV: 'production',
    // Production refuses to store generated signing keys in the clear; a fixed key, as the soak's database is reused.
    VIGIL_METRICS_TOKEN: TOOLS_METRICS_TOKEN,
    VIGIL_JWT_KEY_ENCRYPTION_KEY: 'c29hay1nYXRld2F5LWtleS1lbmNyeXB0aW9uLWtleSE',
    VIGIL_BIOMETRIC_KEYS: `bench:${randomBytes(32).toString('base64')}`,
    // info: one line per HTTP request (tens per second here) and the "listening" line with the port.
    LOG_LEVEL: 'info',
    MONGO_DB: 'vigil_soak',
    REDIS_PREFIX: 'vigil:soak:',
    VIGIL_CV_ENABLED: 'false',
    VIGIL_SIGNUP_PER_IP_HOURLY: '1000000',
    VIGIL_LOGIN_PER_IP: '1000000',
    VIGIL_LOGIN_PER_IDENTIFIER: '1000000',
    VIGIL_WS_MAX_CONNECTIONS_PER_USER: String(perUser),
  });
}
