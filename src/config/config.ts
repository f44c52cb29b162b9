import { relyingPartyOf } from './relying-party.ts';
import { Value } from '@sinclair/typebox/value';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { parseDataKeys } from '../crypto/data-cipher.ts';
import { ConfigSchema, type Config } from './schema.ts';
import { deploymentProblems } from './deployment-safety.ts';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

const compiled = TypeCompiler.Compile(ConfigSchema);

/** Variables whose values must never be echoed, even in a start-up error. */
function isSecret(name: string): boolean {
  return /(TOKEN|PASSWORD|SECRET|PRIVATE|ENCRYPTION_KEY|_KEYS?$)/.test(name) && !/_(TTL|SECONDS|MS|MAX|LENGTH)/.test(name);
}
const TRUE = new Set(['1', 'true', 'yes', 'on']);
const FALSE = new Set(['0', 'false', 'no', 'off', '']);

/** Turns environment strings into typed values; anything unparseable is left for the checker to name. */
function coerce(name: string, raw: string): unknown {
  const schema = ConfigSchema.properties[name as keyof Config] as { type?: string };
  if (schema.type === 'integer' || schema.type === 'number') {
    return raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
  }
  if (schema.type === 'boolean') {
    const lower = raw.trim().toLowerCase();
    if (TRUE.has(lower)) return true;
    if (FALSE.has(lower)) return false;
    return raw;
  }
  return raw;
}

/**
 * Reads the configuration from `env`, applies documented defaults and refuses to start on
 * anything wrong, naming each bad variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input: Record<string, unknown> = {};
  for (const name of Object.keys(ConfigSchema.properties)) {
    const raw = env[name];
    if (raw !== undefined) input[name] = coerce(name, raw);
  }
  const withDefaults = Value.Default(ConfigSchema, input) as Record<string, unknown>;

  const problems: string[] = [];
  const seen = new Set<string>();
  for (const e of compiled.Errors(withDefaults)) {
    const name = e.path.replace(/^\//, '') || '(root)';
    if (seen.has(name)) continue; // a union reports once per branch; the first says enough
    seen.add(name);
    const shown = isSecret(name) ? '(hidden)' : JSON.stringify(withDefaults[name]);
    problems.push(`${name}: ${e.message} (got ${shown})`);
  }
  const config = withDefaults as Config;
  // Settings unsafe or inconsistent together are checked once each one is valid, and reported
  // together, so an operator fixes a production environment in one pass.
  const valid = problems.length === 0;
  if (valid) problems.push(...deploymentProblems(config, env));
  if (valid && config.REDIS_CLUSTER_NODES && config.REDIS_SENTINELS) {
    problems.push('REDIS_CLUSTER_NODES: a cluster has no sentinels; set REDIS_CLUSTER_NODES or REDIS_SENTINELS, not both');
  }
  if (valid && config.VIGIL_CONSOLE && !config.VIGIL_ADMIN_TOKEN) {
    problems.push('VIGIL_CONSOLE: the console signs in with the admin token; set VIGIL_ADMIN_TOKEN');
  }
  if (valid && config.VIGIL_CORS_CREDENTIALS && config.VIGIL_CORS_ORIGINS.trim() === '*') {
    problems.push(
      'VIGIL_CORS_CREDENTIALS: credentials cannot be allowed for every origin (VIGIL_CORS_ORIGINS=*); list the origins',
    );
  }
  if (valid) {
    try {
      const keys = parseDataKeys(config.VIGIL_BIOMETRIC_KEYS);
      if (!keys && config.NODE_ENV === 'production') {
        problems.push(
          'VIGIL_BIOMETRIC_KEYS: required when NODE_ENV=production (biometric data is never stored in plaintext there)',
        );
      }
    } catch (err) {
      problems.push((err as Error).message);
    }
    try {
      parseDataKeys(config.VIGIL_MFA_KEYS);
    } catch (err) {
      problems.push((err as Error).message.replaceAll('VIGIL_BIOMETRIC_KEYS', 'VIGIL_MFA_KEYS'));
    }
  }
  if (valid) problems.push(...relyingPartyOf(config).problems);
  if (valid && config.VIGIL_WEBAUTHN_TEST_PAGE && env.NODE_ENV !== 'test' && env.NODE_ENV !== 'development') {
    problems.push(
      'VIGIL_WEBAUTHN_TEST_PAGE: the passkey test page is served only when NODE_ENV=test (or development) is set explicitly',
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
