import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.ts';
import { startGateway, type Gateway } from '../../src/gateway/gateway.ts';
import { testConfig } from '../support/config.ts';
import { dropTestData } from '../support/gateway.ts';
import { json, sleep, startNode, type Node } from './support.ts';

// Keys generated into MongoDB: two processes starting together agree on one key; a rotation on
// one is picked up by the other without a restart; tokens of the old key verify until the grace
// period ends and are refused after it.
const ADMIN = 'admin-token-for-rotation-tests';
const GRACE_SECONDS = 2;
let config: Config;
let gateway: Gateway;
let url: string;
let node: Node;

beforeAll(async () => {
  config = testConfig({
    VIGIL_ADMIN_TOKEN: ADMIN,
    VIGIL_JWT_KEY_GRACE_SECONDS: String(GRACE_SECONDS),
    VIGIL_JWT_KEYS_POLL_MS: '100',
  });
  // Both start on an empty database at the same moment: exactly one first key may result.
  [gateway, node] = await Promise.all([startGateway(config), startNode(config)]);
  url = `http://127.0.0.1:${gateway.port}`;
});
afterAll(async () => {
  await node?.close();
  await gateway?.close();
  await dropTestData(config);
});

const jwks = async () => ((await (await fetch(`${url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> }).keys;
const introspect = async (token: string) =>
  (await (await fetch(`${url}/v1/tokens/introspect`, json({ token }))).json()) as {
    active: boolean;
    code?: string;
    kid?: string;
  };
const kidOf = (token: string) => decodeProtectedHeader(token).kid;

describe('signing keys', () => {
  it('generates one key on first start even when two processes start at once', async () => {
    const keys = await jwks();
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
    expect(node.core.keys.signingKey().kid).toBe(keys[0]!.kid);
    expect(await gateway.mongo.db.collection('signing_keys').countDocuments()).toBe(1);
  });

  it('lets verifiers cache the key set briefly (unlike every other, no-store, answer)', async () => {
    const res = await fetch(`${url}/.well-known/jwks.json`);
    expect(res.headers.get('cache-control')).toBe('public, max-age=300');
    const health = await fetch(`${url}/healthz`);
    expect(health.headers.get('cache-control')).toBe('no-store');
  });

  it('rotates: old-key tokens verify during the grace period and are refused after it', async () => {
    const [original] = await jwks();
    const { tokens: before } = await node.core.sessions.start({ userId: 'u-rotation' });
    expect(kidOf(before.accessToken)).toBe(original!.kid);
    expect((await introspect(before.accessToken)).active).toBe(true); // and cached

    const rotated = await fetch(`${url}/v1/admin/keys/rotate`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } });
    expect(rotated.status).toBe(200);
    const { kid: newKid } = (await rotated.json()) as { kid: string };
    expect(newKid).not.toBe(original!.kid);
    expect((await jwks()).map((k) => k.kid).sort()).toEqual([original!.kid, newKid].sort());

    // The node polls the key-set version and signs with the new key without a restart.
    await sleep(300);
    const { tokens: after } = await node.core.sessions.start({ userId: 'u-rotation' });
    expect(kidOf(after.accessToken)).toBe(newKid);
    expect(await introspect(after.accessToken)).toMatchObject({ active: true, kid: newKid });

    // Within the grace period the old token still verifies, on both processes.
    expect(await introspect(before.accessToken)).toMatchObject({ active: true, kid: original!.kid });
    expect((await node.core.resolver.resolve(before.accessToken)).userId).toBe('u-rotation');

    await sleep(GRACE_SECONDS * 1000 + 300);
    expect(await introspect(before.accessToken)).toEqual({ active: false, code: 'TOKEN_KEY_RETIRED' });
    await expect(node.core.resolver.resolve(before.accessToken)).rejects.toMatchObject({ code: 'TOKEN_KEY_RETIRED' });
    expect((await jwks()).map((k) => k.kid)).toEqual([newKid]);
    expect((await introspect(after.accessToken)).active).toBe(true);
  });

  it('keeps no private key material for keys that no longer sign', async () => {
    const docs = await gateway.mongo.db.collection('signing_keys').find({}).sort({ _id: 1 }).toArray();
    expect(docs.length).toBeGreaterThanOrEqual(2);
    expect(docs.slice(0, -1).every((d) => d.privateJwk === undefined && d.sealedPrivateJwk === undefined)).toBe(true);
    expect(docs.at(-1)!.privateJwk).toBeDefined();
  });

  it('refuses rotation without the admin credential', async () => {
    const res = await fetch(`${url}/v1/admin/keys/rotate`, { method: 'POST' });
    expect(res.status).toBe(401);
  });
});
