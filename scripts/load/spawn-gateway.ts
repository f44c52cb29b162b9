import { spawnChildGateway, type ChildGateway, TOOLS_METRICS_TOKEN } from '../child-gateway.ts';

export type SpawnedGateway = ChildGateway;

/**
 * A gateway child process for load runs (`--spawn`): production mode (no per-message schema
 * checks), its own database and key prefix, and abuse limits raised so one IP may sign up and
 * log in every test account. Everything else is the default configuration.
 *
 * `verify`: continuous verification on, with the impostor policy `notify` (a replayed stream that
 * turns impostor must not be closed mid-measurement by a step-up nobody answers). Without it the
 * channel runs alone (VIGIL_CV_ENABLED=false), as the realtime figures were measured. VIGIL_CV_*
 * and VIGIL_SCORING_* already in the environment win, so `VIGIL_SCORING_THREADS=1 npm run load …`
 * compares configurations. `extraEnv` is laid over everything (the peer run's own Redis, variants).
 */
export function spawnLoadGateway(
  perUser: number,
  verify = false,
  extraEnv: Record<string, string> = {},
): Promise<SpawnedGateway> {
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    // Production refuses to store generated signing keys in the clear; a fixed key, as the load database is reused.
    VIGIL_METRICS_TOKEN: TOOLS_METRICS_TOKEN,
    VIGIL_JWT_KEY_ENCRYPTION_KEY: 'bG9hZC1nYXRld2F5LWtleS1lbmNyeXB0aW9uLWtleSE',
    // Fixed too: models enrolled by one run are read by the next (a random key made them unreadable, closing every socket 1011).
    VIGIL_BIOMETRIC_KEYS: `bench:${Buffer.from('load-gateway-biometric-sealing-k').toString('base64')}`,
    LOG_LEVEL: 'info',
    // LOAD_MONGO_DB / LOAD_REDIS_PREFIX: a database and key prefix of one's own (e.g. a fresh one to
    // time enrolment from empty, or runs of several branches on one machine).
    MONGO_DB: process.env.LOAD_MONGO_DB ?? 'vigil_load',
    REDIS_PREFIX: process.env.LOAD_REDIS_PREFIX ?? 'vigil:load:',
    VIGIL_SIGNUP_PER_IP_HOURLY: '1000000',
    VIGIL_LOGIN_PER_IP: '1000000',
    VIGIL_LOGIN_PER_IDENTIFIER: '1000',
    VIGIL_WS_MAX_CONNECTIONS_PER_USER: String(perUser),
    ...(verify
      ? {
          VIGIL_CV_ENABLED: 'true',
          VIGIL_CV_POLICY_IMPOSTOR: 'notify',
          VIGIL_CV_POLICY_UNCERTAIN: 'notify',
          // Every simulated device streams the same recordings over and over: replays by design.
          VIGIL_CV_REPLAY_DETECTION: 'false',
        }
      : { VIGIL_CV_ENABLED: 'false' }),
  };
  for (const [key, value] of Object.entries(process.env))
    if (/^VIGIL_(CV|SCORING)_/.test(key) && value !== undefined) env[key] = value;
  return spawnChildGateway({ ...env, ...extraEnv });
}
