import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RevocationEvent } from '../../src/sessions/revocation-bus.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { bearer, errorCode, json, startNode, type Node } from './support.ts';

// Revocation is instant for everything that checks it, in every process: the gateway under
// test and a second node share Redis; revocations travel on the pub/sub channel.
let gw: TestGateway;
let node: Node;

beforeAll(async () => {
  gw = await startTestGateway();
  node = await startNode(gw.config);
});
afterAll(async () => {
  await node?.close();
  await gw?.close();
});

async function until(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const introspect = async (token: string) =>
  (await (await fetch(`${gw.url}/v1/tokens/introspect`, json({ token }))).json()) as { active: boolean; code?: string };
const del = (path: string, token: string) => fetch(`${gw.url}${path}`, { method: 'DELETE', headers: bearer(token) });

async function login(userId: string) {
  const { session, tokens } = await node.core.sessions.start({ userId, ip: '192.0.2.7', userAgent: 'revocation-test' });
  return { id: session.id, token: tokens.accessToken };
}

describe('revocation', () => {
  it('logs out: the token stops working at once, even though it was cached', async () => {
    const a = await login('u-logout');
    expect((await introspect(a.token)).active).toBe(true);
    expect((await introspect(a.token)).active).toBe(true); // now a cache hit
    const res = await del('/v1/sessions/current', a.token);
    expect(await res.json()).toEqual({ revoked: 1 });
    expect(await introspect(a.token)).toEqual({ active: false, code: 'TOKEN_REVOKED' });
  });

  it('introspects an RFC 7662 form post as well as JSON, answering token_type Bearer', async () => {
    const a = await login('u-rfc7662');
    const form = (token: string) =>
      fetch(`${gw.url}/v1/tokens/introspect`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
      });
    const active = (await (await form(a.token)).json()) as Record<string, unknown>;
    expect(active).toMatchObject({ active: true, token_type: 'Bearer', sid: a.id, tokenType: 'access_token' });
    expect(await introspect(a.token)).toMatchObject({ active: true, token_type: 'Bearer' });
    await del('/v1/sessions/current', a.token);
    expect(await (await form(a.token)).json()).toEqual({ active: false, code: 'TOKEN_REVOKED' });
  });

  it('revokes one session from another; the other stays', async () => {
    const a = await login('u-one');
    const b = await login('u-one');
    expect((await introspect(b.token)).active).toBe(true);
    const res = await del(`/v1/sessions/${b.id}`, a.token);
    expect(res.status).toBe(200);
    expect(await introspect(b.token)).toEqual({ active: false, code: 'TOKEN_REVOKED' });
    expect((await introspect(a.token)).active).toBe(true);
    // Already gone, and someone else's session, both answer 404.
    expect((await del(`/v1/sessions/${b.id}`, a.token)).status).toBe(404);
    const stranger = await login('u-stranger');
    const foreign = await del(`/v1/sessions/${stranger.id}`, a.token);
    expect(foreign.status).toBe(404);
    expect(await errorCode(foreign)).toBe('NOT_FOUND');
    expect((await introspect(stranger.token)).active).toBe(true);
  });

  it('revokes all but the current session, then all', async () => {
    const sessions = await Promise.all([1, 2, 3].map(() => login('u-all')));
    const [a, b, c] = sessions as [(typeof sessions)[0], (typeof sessions)[0], (typeof sessions)[0]];
    const list = (await (await fetch(`${gw.url}/v1/sessions`, { headers: bearer(a.token) })).json()) as {
      sessions: Array<{ id: string }>;
    };
    expect(list.sessions).toHaveLength(3);
    expect(list.sessions.find((s) => s.id === a.id)).toMatchObject({
      current: true,
      ip: '192.0.2.7',
      userAgent: 'revocation-test',
      kind: 'core',
    });

    const some = await del('/v1/sessions?exceptCurrent=true', a.token);
    expect(await some.json()).toEqual({ revoked: 2 });
    expect((await introspect(b.token)).active).toBe(false);
    expect((await introspect(c.token)).active).toBe(false);
    expect((await introspect(a.token)).active).toBe(true);

    const all = await del('/v1/sessions', a.token);
    expect(await all.json()).toEqual({ revoked: 1 });
    expect(await introspect(a.token)).toEqual({ active: false, code: 'TOKEN_REVOKED' });
  });

  it('hears a revocation made by another process within a second, and evicts its cache', async () => {
    const a = await login('u-remote');
    expect((await introspect(a.token)).active).toBe(true); // cached in the gateway
    const heard = new Promise<RevocationEvent>((resolve) => {
      const stop = node.core.sessions.onRevoked((event) => {
        if (event.sessionIds.includes(a.id)) {
          stop();
          resolve(event);
        }
      });
    });
    // Revoked through the gateway's HTTP API; the node hears it on the channel.
    const started = Date.now();
    expect((await del('/v1/sessions/current', a.token)).status).toBe(200);
    const event = await heard;
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(event).toMatchObject({ userId: 'u-remote', reason: 'logout' });

    // The other direction: revoked by the node, refused by the gateway's warmed cache.
    const b = await login('u-remote');
    expect((await introspect(b.token)).active).toBe(true);
    expect(await node.core.sessions.revokeAllForUser('u-remote', { reason: 'password changed' })).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await introspect(b.token)).toEqual({ active: false, code: 'TOKEN_REVOKED' });
  });

  it('bypasses the cache while the revocation channel is down, and resyncs after', async () => {
    const a = await login('u-channel');
    expect((await node.core.resolver.resolve(a.token)).sessionId).toBe(a.id); // cached in the node
    const resynced = new Promise<void>((resolve) => {
      const stop = node.core.sessions.onResync(() => {
        stop();
        resolve();
      });
    });
    // Cut the node's subscriber connection from the server side; ioredis reconnects by itself.
    const clients = String(await node.context.redis.client('LIST'));
    const id = clients
      .split('\n')
      .find((line) => line.includes(`name=${node.subscriberName} `))
      ?.match(/id=(\d+)/)?.[1];
    expect(id).toBeDefined();
    await node.context.redis.client('KILL', 'ID', id!);
    await until(() => !node.core.revocations.healthy);
    // Revoked meanwhile without a message reaching the node: it must not trust its cache.
    await gw.gateway.redis.del(`sess:{${a.id}}`);
    await expect(node.core.resolver.resolve(a.token)).rejects.toMatchObject({ code: 'TOKEN_REVOKED' });
    await resynced;
    expect(node.core.revocations.healthy).toBe(true);
  });
});
