import type { Config } from './schema.ts';

/** Loopback listeners only: the dev outbox hands out every code and link the gateway sends. */
export function isLoopbackHost(host: string): boolean {
  const value = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  return value === 'localhost' || value === '::1' || /^127(\.\d{1,3}){3}$/.test(value);
}

/**
 * Settings that are each valid but unsafe together, refused at start naming the variable:
 * development conveniences outside an explicit development or test run, and production
 * signing keys that would be stored in the clear. `env` tells an explicit NODE_ENV from the default.
 */
export function deploymentProblems(config: Config, env: NodeJS.ProcessEnv): string[] {
  const problems: string[] = [];
  if (config.VIGIL_DEV_OUTBOX) {
    const declared = env.NODE_ENV;
    if (declared !== 'development' && declared !== 'test') {
      problems.push(
        `VIGIL_DEV_OUTBOX: the dev outbox is served only when NODE_ENV=development (or test) is set explicitly (got ${declared === undefined ? 'NODE_ENV unset' : `NODE_ENV=${declared}`})`,
      );
    } else if (!isLoopbackHost(config.HOST)) {
      problems.push(`VIGIL_DEV_OUTBOX: the dev outbox is served only on a loopback listener (got HOST=${config.HOST})`);
    }
  }
  // bcrypt's own minimum (4) makes a test suite that hashes thousands of passwords fast; anywhere
  // else a cheap hash is a cheap offline guess.
  if (config.VIGIL_BCRYPT_COST < 10 && env.NODE_ENV !== 'test') {
    problems.push(
      `VIGIL_BCRYPT_COST: a cost below 10 is accepted only when NODE_ENV=test is set explicitly (got ${config.VIGIL_BCRYPT_COST})`,
    );
  }
  if (config.NODE_ENV === 'production' && !config.VIGIL_JWT_PRIVATE_KEYS && !config.VIGIL_JWT_KEY_ENCRYPTION_KEY) {
    problems.push(
      'VIGIL_JWT_KEY_ENCRYPTION_KEY: required when NODE_ENV=production and VIGIL_JWT_PRIVATE_KEYS is unset (generated signing keys would be stored unencrypted in MongoDB)',
    );
  }
  return problems;
}
