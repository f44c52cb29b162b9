import type { Config } from '../config/schema.ts';
import { Cluster } from 'ioredis';
import { tagPerMaster } from './cluster-slots.ts';
import type { RedisClient } from './redis.ts';

type Pipeline = ReturnType<RedisClient['pipeline']>;

/** A Lua script as ioredis' defineCommand takes it. */
export interface ScriptDefinition {
  numberOfKeys: number;
  lua: string;
}

/**
 * Writes that are answered only once `REDIS_WAIT_REPLICAS` replicas hold them (Redis WAIT), so an
 * answered login or refresh rotation survives a failover to a replica.
 *
 * WAIT blocks the connection that sent it until the replicas answer or the timeout passes, and it
 * covers that connection's own writes. On the gateway's shared command connection every other
 * command would queue behind it (behind 500 ms each while a replica is missing), so these writes
 * go, with their WAIT in the same pipeline, over a few connections of their own. On a cluster each
 * is a cluster client: the pipeline goes to the master of the write's slot, and WAIT with it.
 * With REDIS_WAIT_REPLICAS=0 writes use the shared connection and wait for nothing.
 */
export class ReplicatedWrites {
  private readonly clients: RedisClient[];
  private readonly busy: number[];

  constructor(
    private readonly redis: RedisClient,
    private readonly wait: { replicas: number; timeoutMs: number },
    /** Connections for waiting writes: this many WAITs can block at once without blocking each other. */
    connections = 4,
  ) {
    this.clients = wait.replicas > 0 ? Array.from({ length: connections }, () => duplicate(redis)) : [];
    this.busy = this.clients.map(() => 0);
    for (const client of this.clients) {
      client.on('error', () => undefined); // the shared connection's listener reports outages
      client.connect().catch(() => undefined); // retried by the client's own strategy
    }
  }

  static fromConfig(redis: RedisClient, config: Config): ReplicatedWrites {
    return new ReplicatedWrites(redis, { replicas: config.REDIS_WAIT_REPLICAS, timeoutMs: config.REDIS_WAIT_TIMEOUT_MS });
  }

  /** Defines a script on every connection these writes may use. */
  define(name: string, script: ScriptDefinition): void {
    this.redis.defineCommand(name, script);
    for (const client of this.clients) client.defineCommand(name, script);
  }

  /**
   * Runs `write`'s commands in one pipeline (keys in one hash slot), then WAIT on the same
   * connection; the commands' results, or a `ReplicationTimeout` when too few replicas answered.
   * `waitForReplicas: false` for a call that turns out to write nothing (WAIT would still wait
   * for a missing replica).
   */
  async run(write: (pipeline: Pipeline) => void, options: { waitForReplicas?: boolean } = {}): Promise<unknown[]> {
    if (this.clients.length === 0 || options.waitForReplicas === false) {
      return results(await this.pipelineOn(this.redis, write).exec());
    }
    const index = this.takeConnection();
    try {
      const client = this.clients[index]!;
      let values: unknown[];
      for (let attempt = 1; ; attempt++) {
        try {
          values = results(await this.pipelineOn(client, write).wait(this.wait.replicas, this.wait.timeoutMs).exec());
          break;
        } catch (err) {
          // Just after a failover a node redirects the write (MOVED: it was not run) while WAIT in
          // the same pipeline is answered, so ioredis does not follow the redirection itself.
          if (!(client instanceof Cluster) || !isRedirection(err) || attempt === 3) throw err;
          await new Promise<void>((resolve) => client.refreshSlotsCache(() => resolve()));
        }
      }
      const acknowledged = Number(values.pop());
      if (acknowledged < this.wait.replicas) {
        throw new ReplicationTimeout(
          `Redis: ${acknowledged} of ${this.wait.replicas} replicas acknowledged the write within ${this.wait.timeoutMs} ms`,
        );
      }
      return values;
    } finally {
      this.busy[index]!--;
    }
  }

  /**
   * Like `run`, in two steps on one connection: `values` as soon as the master has done the write
   * (a revocation is announced then, not after the wait), and `replicated`, which settles once
   * REDIS_WAIT_REPLICAS replicas acknowledged it (true) or the wait ended without them or failed
   * (false); it never rejects. WAIT covers every earlier write of its connection; `slotKey`, a key
   * of the write's hash slot, only takes it to the same master on a cluster.
   */
  async runThenWait(
    write: (pipeline: Pipeline) => void,
    slotKey: string,
  ): Promise<{ values: unknown[]; replicated: Promise<boolean> }> {
    if (this.clients.length === 0) return { values: await this.run(write), replicated: Promise.resolve(true) };
    const index = this.takeConnection();
    const client = this.clients[index]!;
    let values: unknown[];
    try {
      // Without WAIT in it, ioredis follows a cluster's redirection of this pipeline itself.
      values = results(await this.pipelineOn(client, write).exec());
    } catch (err) {
      this.busy[index]!--;
      throw err;
    }
    const { replicas, timeoutMs } = this.wait;
    const replicated = this.pipelineOn(client, (pipeline) => pipeline.exists(slotKey))
      .wait(replicas, timeoutMs)
      .exec()
      .then(
        (replies) => Number(results(replies).pop()) >= replicas,
        () => false,
      )
      .finally(() => {
        this.busy[index]!--;
      });
    return { values, replicated };
  }

  /**
   * Whether REDIS_WAIT_REPLICAS replicas hold every write the masters of these keys did before
   * now, whichever connection sent it. WAIT counts only its own connection's writes, but a master
   * replicates in one ordered stream: a write of ours (`key` set, expiring soon) acknowledged by a
   * replica proves it holds everything before it. One barrier per key; never rejects.
   */
  async barrier(keys: readonly string[]): Promise<boolean> {
    if (this.clients.length === 0) return true;
    if (keys.length === 0) return false; // a cluster's slot map not known yet: nothing proven
    const each = keys.map((key) =>
      this.run((pipeline) => pipeline.set(key, '1', 'PX', BARRIER_TTL_MS)).then(
        () => true,
        () => false,
      ),
    );
    return (await Promise.all(each)).every(Boolean);
  }

  /** `keyOf(tag)` for a tag on each master: every master of a cluster (from the slot map), else the one. */
  everyMaster(keyOf: (tag: string) => string): string[] {
    return (this.redis instanceof Cluster ? tagPerMaster(this.redis) : ['0']).map(keyOf);
  }

  close(): void {
    for (const client of this.clients) client.disconnect();
  }

  /**
   * The ready waiting connection with the fewest writes on it, counted as one more busy (the caller
   * gives it back). One that is reconnecting would fail the write at once (no offline queue) while
   * another could take it; only when none is ready does the write go, and fail, on any.
   */
  private takeConnection(): number {
    let index = -1;
    this.clients.forEach((client, i) => {
      if (client.status === 'ready' && (index < 0 || this.busy[i]! < this.busy[index]!)) index = i;
    });
    if (index < 0) index = this.busy.indexOf(Math.min(...this.busy));
    this.busy[index]!++;
    return index;
  }

  private pipelineOn(client: RedisClient, write: (pipeline: Pipeline) => void): Pipeline {
    const pipeline = client.pipeline();
    write(pipeline);
    return pipeline;
  }
}

/** A barrier key only has to be written; it expires soon after. */
const BARRIER_TTL_MS = 10_000;

/** Another client with the same options (prefix, retries, nodes or sentinels), on its own connections. */
function duplicate(redis: RedisClient): RedisClient {
  return redis instanceof Cluster ? redis.duplicate() : redis.duplicate();
}

function isRedirection(err: unknown): boolean {
  return err instanceof Error && /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN) /.test(err.message);
}

function results(replies: [Error | null, unknown][] | null): unknown[] {
  for (const [err] of replies ?? []) if (err) throw err;
  return (replies ?? []).map(([, value]) => value);
}

/** A write reached the master but not enough replicas in time (answered 503, like an outage). */
export class ReplicationTimeout extends Error {
  override name = 'ReplicationTimeout';
}
