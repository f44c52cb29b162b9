import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../hardening/support/cluster.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { type DistributedRedis, onRedisNode, startDistributedRedis } from '../support/distributed-redis.ts';
import { bearer, startNode, type Node } from '../sessions/support.ts';

// "Log out everywhere" on a Redis Cluster: an account's sessions are spread over the masters (each
// session's keys are tagged with its own id). When one master's replica lags, the call is answered
// 503 and the client retries; the retry finds no session left to delete, and must not answer
// 200 {revoked: 0} until that master's replica holds the deletion, whichever master the caller's
// own session lives on. The lagging replica is a stopped process (SIGSTOP): its link stays up,
// it just acknowledges nothing.
const BASE = 7380;
const DATA = fileURLToPath(new URL('../../.data/', import.meta.url));
let redis: DistributedRedis;
let gw: TestGateway;
let node: Node;
let stopped: number | undefined;

beforeAll(async () => {
  redis = await startDistributedRedis('cluster', BASE);
  await eventually(() => redis.replicated(), 20_000, 'every master with a replica in sync');
  gw = await startTestGateway({ ...redis.env, REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '100' });
  // Sessions are made by a node that waits for nothing (logins are not under test here).
  node = await startNode({ ...gw.config, REDIS_WAIT_REPLICAS: 0 });
}, 60_000);
afterAll(async () => {
  try {
    if (stopped) process.kill(stopped, 'SIGCONT');
    await node?.close();
    await gw?.close();
  } finally {
    await redis?.destroy();
  }
});

const sessionKey = (id: string) => `${gw.config.REDIS_PREFIX}sess:{${id}}`;

/** The master holding the session now (only the owner answers EXISTS without a redirect). */
async function masterOf(id: string): Promise<number> {
  for (const port of await redis.masters()) {
    if ((await onRedisNode(port, (n) => n.exists(sessionKey(id)).catch(() => -1))) === 1) return port;
  }
  throw new Error(`no master holds session ${id}`);
}

async function replicaOf(master: number): Promise<number> {
  const info = await onRedisNode(master, (n) => n.info('replication'));
  return Number(/^slave0:.*port=(\d+)/m.exec(info)![1]);
}

const pidOf = (port: number) => Number(readFileSync(`${DATA}redis-cluster-${BASE}/${port}.pid`, 'utf8'));

describe('the retry of "log out everywhere" on a cluster', () => {
  it('answers 503 until the replica of every master that held a session acknowledged the deletion', async () => {
    const keep = await node.core.sessions.start({ userId: 'u-cluster-retry' });
    const home = await masterOf(keep.session.id);
    // Another session on another master than the caller's own.
    let elsewhere: { id: string; master: number } | undefined;
    for (let i = 0; i < 30 && !elsewhere; i++) {
      const { session } = await node.core.sessions.start({ userId: 'u-cluster-retry' });
      const master = await masterOf(session.id);
      if (master !== home) elsewhere = { id: session.id, master };
    }
    const replica = await replicaOf(elsewhere!.master);
    stopped = pidOf(replica);
    process.kill(stopped, 'SIGSTOP');

    const request = () =>
      fetch(`${gw.url}/v1/sessions?exceptCurrent=true`, { method: 'DELETE', headers: bearer(keep.tokens.accessToken) });
    expect((await request()).status).toBe(503);
    const retry = await request();
    expect(retry.status).toBe(503);
    expect(retry.headers.get('retry-after')).toBe('1');

    process.kill(stopped, 'SIGCONT');
    stopped = undefined;
    const last = await eventually(
      async () => {
        const res = await request();
        return res.status !== 503 && res;
      },
      20_000,
      'an answer once the replica acknowledges again',
    );
    expect(last.status).toBe(200);
    expect(await last.json()).toEqual({ revoked: 0 });
    const onReplica = await onRedisNode(replica, async (n) => (await n.call('READONLY'), n.exists(sessionKey(elsewhere!.id))));
    expect(onReplica).toBe(0);
  });
});
