import { describe, expect, it } from 'vitest';
import { availableParallelism } from 'node:os';
import { processCount } from '../server/supervisor.ts';
import { ConfigError, loadConfig } from './config.ts';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('loadConfig', () => {
  it('applies the documented defaults for local use', () => {
    const config = loadConfig({});
    expect(config.PORT).toBe(8080);
    expect(config.HOST).toBe('127.0.0.1');
    expect(config.MONGO_URL).toBe('mongodb://127.0.0.1:27017/vigil');
    expect(config.REDIS_URL).toBe('redis://127.0.0.1:6379/0');
    expect(config.VIGIL_DEV_OUTBOX).toBe(false);
  });

  it('converts numbers and booleans from strings', () => {
    const config = loadConfig({ NODE_ENV: 'development', PORT: '9000', VIGIL_DEV_OUTBOX: '1', TRUST_PROXY: 'true' });
    expect(config.PORT).toBe(9000);
    expect(config.VIGIL_DEV_OUTBOX).toBe(true);
    expect(config.TRUST_PROXY).toBe(true);
  });

  it('names each bad variable', () => {
    const problems = problemsOf({ PORT: 'eighty', MONGO_URL: 'postgres://x', LOG_LEVEL: 'loud' });
    expect(problems).toHaveLength(3);
    expect(problems.find((p) => p.startsWith('PORT:'))).toContain('"eighty"');
    expect(problems.some((p) => p.startsWith('MONGO_URL:'))).toBe(true);
    expect(problems.some((p) => p.startsWith('LOG_LEVEL:'))).toBe(true);
  });

  it('watches streamed sessions for fresh evidence by default, and names a bad policy or gap', () => {
    const config = loadConfig({});
    expect(config.VIGIL_CV_EVIDENCE_POLICY).toBe('streamed');
    expect(config.VIGIL_CV_EVIDENCE_MAX_GAP_SECONDS).toBe(180);
    expect(loadConfig({ VIGIL_CV_EVIDENCE_POLICY: 'always' }).VIGIL_CV_EVIDENCE_POLICY).toBe('always');
    const problems = problemsOf({ VIGIL_CV_EVIDENCE_POLICY: 'sometimes', VIGIL_CV_EVIDENCE_MAX_GAP_SECONDS: '0' });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual([
      'VIGIL_CV_EVIDENCE_MAX_GAP_SECONDS',
      'VIGIL_CV_EVIDENCE_POLICY',
    ]);
  });

  it('takes VIGIL_PROCESSES as a count or auto, and names it otherwise', () => {
    expect(loadConfig({}).VIGIL_PROCESSES).toBe('1');
    expect(processCount(loadConfig({ VIGIL_PROCESSES: '4' }).VIGIL_PROCESSES)).toBe(4);
    expect(processCount(loadConfig({ VIGIL_PROCESSES: 'auto' }).VIGIL_PROCESSES)).toBe(availableParallelism());
    for (const bad of ['0', 'all', '-2', '100'])
      expect(problemsOf({ VIGIL_PROCESSES: bad })[0]).toMatch(new RegExp(`^VIGIL_PROCESSES: .*"${bad}"`));
  });

  it('rejects an out-of-range port', () => {
    expect(problemsOf({ PORT: '70000' })[0]).toMatch(/^PORT:/);
  });

  it('takes CORS origins as a list of http(s) origins or *, and refuses credentials for every origin', () => {
    expect(problemsOf({ VIGIL_CORS_ORIGINS: 'https://app.example, http://localhost:3000' })).toEqual([]);
    expect(problemsOf({ VIGIL_CORS_ORIGINS: 'app.example' })[0]).toMatch(/^VIGIL_CORS_ORIGINS:/);
    expect(problemsOf({ VIGIL_CORS_ORIGINS: 'https://app.example/path' })[0]).toMatch(/^VIGIL_CORS_ORIGINS:/);
    expect(problemsOf({ VIGIL_CORS_ORIGINS: '*', VIGIL_CORS_CREDENTIALS: 'true' })).toEqual([
      'VIGIL_CORS_CREDENTIALS: credentials cannot be allowed for every origin (VIGIL_CORS_ORIGINS=*); list the origins',
    ]);
  });

  it('takes Redis Cluster nodes or Sentinels as host:port lists, not both, and a wait for replicas within bounds', () => {
    const nodes = '127.0.0.1:7100,127.0.0.1:7101';
    expect(problemsOf({ REDIS_CLUSTER_NODES: nodes })).toEqual([]);
    expect(problemsOf({ REDIS_SENTINELS: 'sentinel-a:26379,sentinel-b:26379', REDIS_SENTINEL_MASTER: 'vigil' })).toEqual([]);
    expect(problemsOf({ REDIS_CLUSTER_NODES: nodes, REDIS_SENTINELS: nodes })).toEqual([
      'REDIS_CLUSTER_NODES: a cluster has no sentinels; set REDIS_CLUSTER_NODES or REDIS_SENTINELS, not both',
    ]);
    for (const bad of ['127.0.0.1', 'redis://127.0.0.1:7100', '127.0.0.1:7100;127.0.0.1:7101', '']) {
      expect(problemsOf({ REDIS_CLUSTER_NODES: bad })[0]).toMatch(/^REDIS_CLUSTER_NODES: /);
      expect(problemsOf({ REDIS_SENTINELS: bad })[0]).toMatch(/^REDIS_SENTINELS: /);
    }
    expect(problemsOf({ REDIS_SENTINEL_MASTER: 'my master' })[0]).toMatch(/^REDIS_SENTINEL_MASTER: /);
    expect(problemsOf({ REDIS_WAIT_REPLICAS: '-1' })[0]).toMatch(/^REDIS_WAIT_REPLICAS: /);
    expect(problemsOf({ REDIS_WAIT_TIMEOUT_MS: '0' })[0]).toMatch(/^REDIS_WAIT_TIMEOUT_MS: /);
  });

  it('refuses the console without the admin token it signs in with', () => {
    expect(problemsOf({ VIGIL_CONSOLE: 'true' })).toEqual([
      'VIGIL_CONSOLE: the console signs in with the admin token; set VIGIL_ADMIN_TOKEN',
    ]);
    expect(problemsOf({ VIGIL_CONSOLE: 'true', VIGIL_ADMIN_TOKEN: 'x'.repeat(32) })).toEqual([]);
  });

  it('serves the dev outbox only in an explicit development or test run on loopback', () => {
    const keyed = {
      VIGIL_JWT_KEY_ENCRYPTION_KEY: 'x'.repeat(43),
      VIGIL_BIOMETRIC_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
    };
    expect(problemsOf({ NODE_ENV: 'production', VIGIL_DEV_OUTBOX: '1', ...keyed })).toEqual([
      'VIGIL_DEV_OUTBOX: the dev outbox is served only when NODE_ENV=development (or test) is set explicitly (got NODE_ENV=production)',
    ]);
    expect(problemsOf({ VIGIL_DEV_OUTBOX: '1' })).toEqual([
      'VIGIL_DEV_OUTBOX: the dev outbox is served only when NODE_ENV=development (or test) is set explicitly (got NODE_ENV unset)',
    ]);
    expect(problemsOf({ NODE_ENV: 'development', VIGIL_DEV_OUTBOX: '1', HOST: '0.0.0.0' })).toEqual([
      'VIGIL_DEV_OUTBOX: the dev outbox is served only on a loopback listener (got HOST=0.0.0.0)',
    ]);
    expect(problemsOf({ NODE_ENV: 'test', VIGIL_DEV_OUTBOX: '1', HOST: '::1' })).toEqual([]);
  });

  it('accepts a bcrypt cost below 10 only in an explicit test run', () => {
    expect(problemsOf({ NODE_ENV: 'development', VIGIL_BCRYPT_COST: '4' })).toEqual([
      'VIGIL_BCRYPT_COST: a cost below 10 is accepted only when NODE_ENV=test is set explicitly (got 4)',
    ]);
    expect(problemsOf({ VIGIL_BCRYPT_COST: '9' })).toEqual([
      'VIGIL_BCRYPT_COST: a cost below 10 is accepted only when NODE_ENV=test is set explicitly (got 9)',
    ]);
    expect(problemsOf({ NODE_ENV: 'test', VIGIL_BCRYPT_COST: '4' })).toEqual([]);
    expect(problemsOf({ VIGIL_BCRYPT_COST: '3' })[0]).toMatch(/^VIGIL_BCRYPT_COST:/);
  });

  it('refuses production with generated signing keys stored in the clear, listing every missing key at once', () => {
    const jwtProblem =
      'VIGIL_JWT_KEY_ENCRYPTION_KEY: required when NODE_ENV=production and VIGIL_JWT_PRIVATE_KEYS is unset (generated signing keys would be stored unencrypted in MongoDB)';
    const biometric = { VIGIL_BIOMETRIC_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}` };
    expect(problemsOf({ NODE_ENV: 'production', ...biometric })).toEqual([jwtProblem]);
    expect(problemsOf({ NODE_ENV: 'production' })).toEqual([
      jwtProblem,
      'VIGIL_BIOMETRIC_KEYS: required when NODE_ENV=production (biometric data is never stored in plaintext there)',
    ]);
  });

  it('requires biometric keys in production, and names a malformed one', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    const signingKeysSealed = { VIGIL_JWT_KEY_ENCRYPTION_KEY: 'x'.repeat(43) };
    expect(problemsOf({ NODE_ENV: 'production', ...signingKeysSealed })).toEqual([
      'VIGIL_BIOMETRIC_KEYS: required when NODE_ENV=production (biometric data is never stored in plaintext there)',
    ]);
    expect(problemsOf({ NODE_ENV: 'production', VIGIL_BIOMETRIC_KEYS: `k1:${key}`, ...signingKeysSealed })).toEqual([]);
    expect(problemsOf({ VIGIL_BIOMETRIC_KEYS: 'k1:c2hvcnQ=' })).toEqual([
      'VIGIL_BIOMETRIC_KEYS: key "k1" must be 32 bytes (base64), got 5',
    ]);
    expect(problemsOf({ VIGIL_BIOMETRIC_KEYS: 'no key here' })[0]).toMatch(/^VIGIL_BIOMETRIC_KEYS must be id:base64key pairs/);
  });

  it('never echoes a secret in an error', () => {
    const problems = problemsOf({ VIGIL_ADMIN_TOKEN: 'short', VIGIL_SMTP_PASSWORD: '' });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['VIGIL_ADMIN_TOKEN', 'VIGIL_SMTP_PASSWORD']);
    expect(problems.join('\n')).not.toContain('short');
    expect(problems.every((p) => p.endsWith('(got (hidden))'))).toBe(true);
  });

  describe('passkeys (VIGIL_WEBAUTHN_*)', () => {
    it('refuses an origin whose host is not the RP ID or a subdomain of it', () => {
      const problems = problemsOf({
        VIGIL_WEBAUTHN_RP_ID: 'vigil.example',
        VIGIL_WEBAUTHN_ORIGINS: 'https://app.vigil.example,https://evil-vigil.example',
      });
      expect(problems).toEqual([
        'VIGIL_WEBAUTHN_ORIGINS: the host of https://evil-vigil.example is neither VIGIL_WEBAUTHN_RP_ID (vigil.example) nor a subdomain of it',
      ]);
    });

    it('refuses http origins other than localhost in production', () => {
      const problems = problemsOf({
        NODE_ENV: 'production',
        VIGIL_BIOMETRIC_KEYS: `k:${Buffer.alloc(32, 1).toString('base64')}`,
        VIGIL_JWT_KEY_ENCRYPTION_KEY: Buffer.alloc(32, 2).toString('base64url'),
        VIGIL_WEBAUTHN_RP_ID: 'vigil.example',
        VIGIL_WEBAUTHN_ORIGINS: 'http://vigil.example',
      });
      expect(problems).toContain(
        'VIGIL_WEBAUTHN_ORIGINS: http://vigil.example must use https in production (only localhost may use http)',
      );
      expect(
        problemsOf({
          NODE_ENV: 'development',
          VIGIL_WEBAUTHN_RP_ID: 'vigil.example',
          VIGIL_WEBAUTHN_ORIGINS: 'http://vigil.example',
        }),
      ).toEqual([]);
    });

    it('refuses an RP ID that is not a domain, and origins with paths', () => {
      expect(
        problemsOf({ VIGIL_WEBAUTHN_RP_ID: 'https://vigil.example', VIGIL_WEBAUTHN_ORIGINS: 'https://vigil.example' })[0],
      ).toMatch(/^VIGIL_WEBAUTHN_RP_ID: must be a domain name/);
      expect(problemsOf({ VIGIL_WEBAUTHN_RP_ID: 'vigil.example', VIGIL_WEBAUTHN_ORIGINS: 'https://vigil.example/app' })).toEqual([
        'VIGIL_WEBAUTHN_ORIGINS: "https://vigil.example/app" is not an origin (scheme://host[:port], no path)',
      ]);
    });

    it('serves the passkey test page only in an explicit test or development run', () => {
      expect(problemsOf({ VIGIL_WEBAUTHN_TEST_PAGE: '1' })).toEqual([
        'VIGIL_WEBAUTHN_TEST_PAGE: the passkey test page is served only when NODE_ENV=test (or development) is set explicitly',
      ]);
      expect(problemsOf({ NODE_ENV: 'test', VIGIL_WEBAUTHN_TEST_PAGE: '1' })).toEqual([]);
    });
  });
});
