import { createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, type RedisClient } from '../../src/storage/redis.ts';
import { ReplicatedWrites } from '../../src/storage/replicated-writes.ts';
import { eventually } from '../hardening/support/cluster.ts';
import { bridge, viaPort } from '../hardening/support/tcp-proxy.ts';
import { testConfig } from '../support/config.ts';
import { freePort, startPrivateRedis, type PrivateServer } from '../support/services.ts';

// Waiting writes go over a few connections of their own. One of them can be down while the others
// are fine (the server closed it, or refuses it again at maxclients): a write must not be sent over
// it, where it fails at once ("Stream isn't writeable"; commands are not queued offline), while
// another connection is ready. A private master with a real replica, so every WAIT is answered;
// the waiting connections reach the master through a proxy that drops one and refuses it back.
let master: PrivateServer;
let replica: PrivateServer;
let proxy: { port: number; pairs: Socket[][]; refuse: boolean; attempts: number; server: Server };
let redis: RedisClient;
let writes: ReplicatedWrites;

beforeAll(async () => {
  [master, replica] = await Promise.all([startPrivateRedis(), startPrivateRedis()]);
  const [onMaster, onReplica] = [new Redis(master.url), new Redis(replica.url)];
  await onMaster.config('SET', 'repl-diskless-sync-delay', '0'); // sync at once, not after 5 s
  await onReplica.replicaof('127.0.0.1', master.port);
  onMaster.disconnect();
  onReplica.disconnect();
  await eventually(
    async () => {
      const client = new Redis(master.url);
      const info = await client.info('replication').finally(() => client.disconnect());
      return /^slave0:.*state=online/m.test(info);
    },
    10_000,
    'the replica in sync',
  );

  const port = await freePort();
  proxy = { port, pairs: [], refuse: false, attempts: 0, server: createServer() };
  proxy.server.on('connection', (client) => {
    proxy.attempts++;
    if (proxy.refuse) return void client.destroy();
    const open = new Set<Socket>();
    const upstream = bridge(client, { host: '127.0.0.1', port: master.port }, open);
    client.pipe(upstream);
    upstream.pipe(client);
    proxy.pairs.push([client, upstream]);
  });
  await new Promise<void>((resolve) => proxy.server.listen(port, '127.0.0.1', resolve));

  // Never connected itself (lazy): only the waiting connections, its duplicates, go through the proxy.
  redis = createRedis(testConfig({ REDIS_URL: viaPort(master.url, port) }));
  writes = new ReplicatedWrites(redis, { replicas: 1, timeoutMs: 2_000 }, 3);
}, 30_000);
afterAll(async () => {
  writes?.close();
  redis?.disconnect();
  for (const pair of proxy?.pairs ?? []) for (const socket of pair) socket.destroy();
  await new Promise<void>((resolve) => (proxy ? proxy.server.close(() => resolve()) : resolve()));
  await Promise.all([replica?.destroy(), master?.destroy()]);
});

/** As many writes at once as there are waiting connections: each resolves with its value or error message. */
const burst = (tag: string) =>
  Promise.all(
    [0, 1, 2].map((i) =>
      writes
        .run((pipeline) => pipeline.set(`rw-test:${tag}:${i}`, String(i), 'PX', 10_000))
        .then(
          ([value]) => String(value),
          (err: Error) => err.message,
        ),
    ),
  );

describe('waiting writes', () => {
  it('go over the connections that are ready while one of them reconnects', async () => {
    await eventually(async () => (await burst('warm')).every((value) => value === 'OK'), 10_000, 'every connection ready');
    expect(proxy.pairs).toHaveLength(3);

    proxy.refuse = true;
    const attempts = proxy.attempts;
    for (const socket of proxy.pairs[0]!) socket.destroy();
    // The dropped connection has noticed and is trying to come back (refused).
    await eventually(() => proxy.attempts > attempts, 5_000, 'a reconnection attempt');

    expect(await burst('one-down')).toEqual(['OK', 'OK', 'OK']);
    expect(await burst('still-down')).toEqual(['OK', 'OK', 'OK']);
  });
});
