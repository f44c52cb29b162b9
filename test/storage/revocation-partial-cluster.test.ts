import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../hardening/support/cluster.ts';
import { CHANNEL_ONLY, closedWithin, login, readySocket, type Login, type TestSocket } from '../realtime/support.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { type DistributedRedis, onRedisNode, startDistributedRedis } from '../support/distributed-redis.ts';
import { signUpMember } from '../hardening/support/accounts.ts';
import { bearer, json, startNode, type Node } from '../sessions/support.ts';

// "Log out everywhere" on a Redis Cluster deletes each session on its own master. When one master
// refuses the write (NOREPLICAS: min-replicas-to-write with too few replicas, as when its replicas
// are gone), the others have already deleted theirs. Those must still be announced: their sockets
// close and their cached tokens are refused on every gateway process, while the client is answered
// 503 and retries. The sessions still live are only re-checked, and the retry ends them.
const BASE = 7390;
let redis: DistributedRedis;
let a: TestGateway;
let b: TestGateway;
let node: Node;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  redis = await startDistributedRedis('cluster', BASE);
  await eventually(() => redis.replicated(), 20_000, 'every master with a replica in sync');
  const env = {
    ...redis.env,
    ...CHANNEL_ONLY,
    REDIS_WAIT_REPLICAS: '1',
    REDIS_WAIT_TIMEOUT_MS: '1000',
    VIGIL_LOGIN_PER_IDENTIFIER: '100',
  };
  a = await startTestGateway(env);
  // Another gateway over the same stores: revocations reach it only through the pub/sub channel.
  b = await startTestGateway({ ...env, REDIS_PREFIX: a.config.REDIS_PREFIX, MONGO_DB: a.config.MONGO_DB! });
  // Sessions are made by a node that waits for nothing (logins are not under test here).
  node = await startNode({ ...a.config, REDIS_WAIT_REPLICAS: 0 });
}, 90_000);
afterAll(async () => {
  try {
    for (const socket of sockets) socket.close();
    for (const stop of [() => node?.close(), () => b?.close(), () => a?.close()]) await stop()?.catch(() => undefined);
  } finally {
    await redis?.destroy();
  }
});

/** The master holding the session now (only the owner answers EXISTS without a redirect). */
async function masterOf(id: string): Promise<number> {
  const key = `${a.config.REDIS_PREFIX}sess:{${id}}`;
  for (const port of await redis.masters()) {
    if ((await onRedisNode(port, (n) => n.exists(key).catch(() => -1))) === 1) return port;
  }
  throw new Error(`no master holds session ${id}`);
}

const introspect = async (gw: TestGateway, token: string) =>
  (await (await fetch(`${gw.url}/v1/tokens/introspect`, json({ token }))).json()) as { active: boolean; code?: string };

describe('a "log out everywhere" that one master refuses', () => {
  it('still announces the sessions the other masters deleted, and answers 503 until the retry ends the rest', async () => {
    const user = 'u-partial-revocation';
    const keep = await login(node, user);
    // Sessions until two masters hold some; the last one made names the master that will refuse.
    const made: Array<Login & { master: number }> = [];
    while (new Set(made.map((s) => s.master)).size < 2 && made.length < 30) {
      const session = await login(node, user);
      made.push({ ...session, master: await masterOf(session.sessionId) });
    }
    const refusing = made.at(-1)!.master;
    const doomed = made.filter((s) => s.master !== refusing);
    const stuck = made.filter((s) => s.master === refusing);
    expect(doomed.length).toBeGreaterThan(0);

    // On the other gateway: a socket of a session that will be deleted, and cached verifications.
    const socket = await readySocket(b.url, doomed[0]!.accessToken);
    sockets.push(socket);
    for (const s of [doomed[0]!, stuck[0]!]) {
      expect((await introspect(b, s.accessToken)).active).toBe(true);
      expect((await introspect(b, s.accessToken)).active).toBe(true); // now a cache hit
    }

    await onRedisNode(refusing, (n) => n.config('SET', 'min-replicas-to-write', '2'));
    const request = () =>
      fetch(`${a.url}/v1/sessions?exceptCurrent=true`, { method: 'DELETE', headers: bearer(keep.accessToken) });
    const failed = await request();
    expect(failed.status).toBe(503);
    expect(failed.headers.get('retry-after')).toBe('1');

    expect((await closedWithin(socket, 5_000)).code).toBe(4520); // TOKEN_REVOKED
    for (const s of doomed) expect(await introspect(b, s.accessToken)).toEqual({ active: false, code: 'TOKEN_REVOKED' });
    // Announced too, but still live: re-checked, not refused.
    expect((await introspect(b, stuck[0]!.accessToken)).active).toBe(true);

    await onRedisNode(refusing, (n) => n.config('SET', 'min-replicas-to-write', '0'));
    const retry = await request();
    expect(retry.status).toBe(200);
    expect(await retry.json()).toEqual({ revoked: stuck.length });
    for (const s of stuck) expect(await introspect(b, s.accessToken)).toEqual({ active: false, code: 'TOKEN_REVOKED' });
    expect((await introspect(b, keep.accessToken)).active).toBe(true);
  });

  it('removing a device: its sessions the other masters deleted are refused at once, and the retry still finds the device and ends the rest', async () => {
    const member = await signUpMember(a.url, 'pd');
    const device = { id: 'watch-partial', platform: 'wearos' };
    const onDevice: Array<{ sessionId: string; accessToken: string; master: number }> = [];
    while (new Set(onDevice.map((s) => s.master)).size < 2 && onDevice.length < 30) {
      const res = await fetch(`${a.url}/v1/sessions`, json({ identifier: member.username, password: member.password, device }));
      expect(res.status).toBe(201);
      const session = (await res.json()) as { sessionId: string; accessToken: string };
      onDevice.push({ ...session, master: await masterOf(session.sessionId) });
    }
    const refusing = onDevice.at(-1)!.master;
    const doomed = onDevice.filter((s) => s.master !== refusing);
    const stuck = onDevice.filter((s) => s.master === refusing);
    for (const s of onDevice) expect((await introspect(b, s.accessToken)).active).toBe(true);

    await onRedisNode(refusing, (n) => n.config('SET', 'min-replicas-to-write', '2'));
    const remove = () => fetch(`${a.url}/v1/devices/${device.id}`, { method: 'DELETE', headers: bearer(member.accessToken) });
    const failed = await remove();
    expect(failed.status).toBe(503);
    for (const s of doomed) expect(await introspect(b, s.accessToken)).toEqual({ active: false, code: 'TOKEN_REVOKED' });
    expect((await introspect(b, stuck[0]!.accessToken)).active).toBe(true);

    await onRedisNode(refusing, (n) => n.config('SET', 'min-replicas-to-write', '0'));
    const retry = await remove();
    expect(retry.status).toBe(200);
    expect(await retry.json()).toEqual({ removed: true, revokedSessions: stuck.length });
    for (const s of stuck) expect(await introspect(b, s.accessToken)).toEqual({ active: false, code: 'TOKEN_REVOKED' });
    expect((await remove()).status).toBe(404);
    expect((await introspect(b, member.accessToken)).active).toBe(true);
  });
});
