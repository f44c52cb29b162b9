import { Redis } from 'ioredis';
import { eventually } from '../hardening/support/cluster.ts';
import { startPrivateRedis, type PrivateServer } from './services.ts';

/**
 * A private Redis master with one replica that a test detaches (REPLICAOF NO ONE) and attaches
 * again: with `REDIS_WAIT_REPLICAS=1`, writes that wait for replicas then answer 503.
 */
export interface ReplicatedRedis {
  master: PrivateServer;
  replica: PrivateServer;
  masterAdmin: Redis;
  replicaAdmin: Redis;
  /** Resolves once the replica acknowledges writes, not merely once it is "online". */
  attach(): Promise<void>;
  detach(): Promise<void>;
  /** Whether the master has no replica (a test that failed half-way may leave it so). */
  detached(): Promise<boolean>;
  destroy(): Promise<void>;
}

export async function startReplicatedRedis(): Promise<ReplicatedRedis> {
  const master = await startPrivateRedis();
  const replica = await startPrivateRedis();
  const masterAdmin = new Redis(master.url);
  const replicaAdmin = new Redis(replica.url);
  await masterAdmin.config('SET', 'repl-diskless-sync-delay', '0'); // a full sync starts at once
  const detached = async () => /^connected_slaves:0/m.test(await masterAdmin.info('replication'));
  const pair: ReplicatedRedis = {
    master,
    replica,
    masterAdmin,
    replicaAdmin,
    detached,
    async attach() {
      await replicaAdmin.replicaof('127.0.0.1', master.port);
      // "online" comes before the replica acknowledges anything (up to a second after a resync).
      await eventually(
        async () => (await masterAdmin.set('probe', '1'), (await masterAdmin.wait(1, 1_000)) === 1),
        10_000,
        'replica acknowledging',
      );
    },
    async detach() {
      await replicaAdmin.replicaof('NO', 'ONE');
      await eventually(detached, 10_000, 'replica gone');
    },
    async destroy() {
      replicaAdmin.disconnect();
      masterAdmin.disconnect();
      await replica.destroy();
      await master.destroy();
    },
  };
  await pair.attach();
  return pair;
}
