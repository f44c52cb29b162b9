import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config/config.ts';
import type { Config } from '../../src/config/schema.ts';

export const TEST_BIOMETRIC_KEYS = `test-1:${Buffer.alloc(32, 0x5a).toString('base64')}`;

/**
 * A configuration isolated for one test file: its own Mongo database and Redis key prefix, so
 * files run in parallel against the same servers without seeing each other's data.
 */
export function testConfig(overrides: Record<string, string> = {}): Config {
  const id = randomBytes(4).toString('hex');
  return loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    MONGO_URL: process.env.MONGO_URL ?? 'mongodb://127.0.0.1:27017/vigil',
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0',
    MONGO_DB: `vigil_test_${id}`,
    REDIS_PREFIX: `vigil:test:${id}:`,
    // Many gateways share the test machine: one scoring thread each unless a test asks for more.
    VIGIL_SCORING_THREADS: '1',
    // Biometric data is sealed in tests as in production (one fixed test key).
    VIGIL_BIOMETRIC_KEYS: TEST_BIOMETRIC_KEYS,
    // bcrypt's minimum cost: the suite hashes thousands of passwords (49 ms each at 10, 1 ms at 4).
    // Tests that compare answer times keep the production cost of 10, so a missing dummy hash shows.
    VIGIL_BCRYPT_COST: '4',
    // Tests count their cohorts exactly; the background population has its own test.
    VIGIL_BIOMETRIC_BACKGROUND: 'off',
    // Fixture cohorts are enrolments of user ids without accounts; the poisoning test vets its pool.
    VIGIL_BIOMETRIC_COHORT_VETTING: 'false',
    ...overrides,
  });
}

/** Environment variables for a gateway child process with the same isolation. */
export function configEnv(config: Config): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(config)) if (value !== undefined) env[key] = String(value);
  return env;
}
