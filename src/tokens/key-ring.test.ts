import { randomBytes } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../test/support/config.ts';
import { dropTestData } from '../../test/support/gateway.ts';
import { createLogger } from '../observability/logger.ts';
import { connectRedis, createRedis } from '../storage/redis.ts';
import { eddsaSigner, hs512Secret, hs512Signer } from './jwt-signer.ts';
import { eddsaVerifier, hs512Verifier } from './jwt-verifier.ts';
import { KeyRing, generateSigningJwk } from './key-ring.ts';
import { SigningKeyStore } from './signing-key-store.ts';

const config = testConfig();
const redis = createRedis(config, 'key-ring-test');
const mongo = new MongoClient(config.MONGO_URL);
const logger = createLogger('silent');
const policy = { issuer: 'iss', audience: 'aud', clockToleranceSeconds: 0, requiredClaims: ['sub'] };
const claims = () => ({
  iss: 'iss',
  aud: 'aud',
  sub: 'u',
  iat: Math.floor(Date.now() / 1000),
  exp: Math.floor(Date.now() / 1000) + 60,
});

beforeAll(async () => {
  await connectRedis(redis, 10_000);
  await mongo.connect();
});
afterAll(async () => {
  redis.disconnect();
  await mongo.close();
  await dropTestData(config);
});

describe('keys from VIGIL_JWT_PRIVATE_KEYS', () => {
  it('signs with the first key and verifies with every listed key', async () => {
    const [first, second] = [await generateSigningJwk(), await generateSigningJwk()];
    const ring = KeyRing.fromConfig(JSON.stringify({ keys: [first.privateJwk, second.privateJwk] }), redis, logger);
    await ring.start();
    expect(ring.signingKey().kid).toBe(first.kid);
    expect(ring.jwks().keys.map((k) => k.kid)).toEqual([first.kid, second.kid]);
    expect(ring.jwks().keys[0]).not.toHaveProperty('d');
    const token = await eddsaSigner(ring).sign(claims());
    expect((await eddsaVerifier(ring, policy).verify(token)).claims.sub).toBe('u');
    await expect(ring.rotate()).rejects.toMatchObject({ code: 'SIGNING_KEYS_FROM_CONFIG' });
    ring.close();
  });

  it('refuses a bad setting with a message that names it', async () => {
    const bad = (json: string) => () => KeyRing.fromConfig(json, redis, logger);
    expect(bad('{nope')).toThrow(/^VIGIL_JWT_PRIVATE_KEYS is not JSON/);
    expect(bad('{"keys":[]}')).toThrow(/^VIGIL_JWT_PRIVATE_KEYS must be a JWK set with at least one key/);
    const { publicJwk } = await generateSigningJwk();
    expect(bad(JSON.stringify({ keys: [publicJwk] }))).toThrow(/^VIGIL_JWT_PRIVATE_KEYS keys\[0\] must be a private Ed25519 JWK/);
  });
});

describe('HS512 for the legacy dialect that needs it', () => {
  it('signs and verifies with a shared secret, and is refused by the EdDSA verifier (and vice versa)', async () => {
    const secret = await hs512Secret(randomBytes(64), 'LEGACY_SECRET');
    const token = await hs512Signer(secret).sign({ ...claims(), legacyUserNo: 7 });
    const verified = await hs512Verifier(secret, policy).verify(token);
    expect(verified.claims.legacyUserNo).toBe(7);
    expect(verified.header.alg).toBe('HS512');

    const ring = KeyRing.fromConfig(JSON.stringify({ keys: [(await generateSigningJwk()).privateJwk] }), redis, logger);
    await ring.start();
    await expect(eddsaVerifier(ring, policy).verify(token)).rejects.toMatchObject({ code: 'TOKEN_ALG_MISMATCH' });
    const eddsa = await eddsaSigner(ring).sign(claims());
    await expect(hs512Verifier(secret, policy).verify(eddsa)).rejects.toMatchObject({ code: 'TOKEN_ALG_MISMATCH' });
    const other = await hs512Secret(randomBytes(64), 'LEGACY_SECRET');
    await expect(hs512Verifier(other, policy).verify(token)).rejects.toMatchObject({ code: 'TOKEN_SIGNATURE_INVALID' });
    ring.close();
  });

  it('refuses a secret shorter than the hash', async () => {
    await expect(hs512Secret('short', 'LEGACY_SECRET')).rejects.toThrow(
      'LEGACY_SECRET must be at least 64 bytes for HS512 (got 5)',
    );
  });
});

describe('generated keys in MongoDB', () => {
  it('stores private keys encrypted when an encryption key is configured, and needs it to load them', async () => {
    const db = mongo.db(config.MONGO_DB);
    const encryptionKey = randomBytes(32);
    const store = new SigningKeyStore(db, encryptionKey);
    const key = await generateSigningJwk();
    expect(await store.insert(1, key)).toBe(true);
    expect(await store.insert(1, await generateSigningJwk())).toBe(false);
    const [doc] = await store.latest();
    expect(doc!.privateJwk).toBeUndefined();
    expect(doc!.sealedPrivateJwk).toBeDefined();
    expect(JSON.stringify(doc)).not.toContain(key.privateJwk.d);
    expect(store.privateJwkOf(doc!)).toEqual(key.privateJwk);

    expect(() => new SigningKeyStore(db, undefined).privateJwkOf(doc!)).toThrow(/VIGIL_JWT_KEY_ENCRYPTION_KEY is not set/);
    expect(() => new SigningKeyStore(db, randomBytes(32)).privateJwkOf(doc!)).toThrow(/does not decrypt/);

    const ring = KeyRing.fromStore(store, redis, logger, { graceSeconds: 60, pollMs: 0 });
    await ring.start();
    expect(ring.signingKey().kid).toBe(key.kid);
    ring.close();
  });
});
