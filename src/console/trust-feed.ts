import type { RedisClient } from '../storage/redis.ts';
import type { TrustPoint } from '../biometrics/continuous/trust-point.ts';
import type { Logger } from '../observability/logger.ts';

/** How long a watch lasts without being renewed; watchers renew at a third of it. */
const WATCH_MS = 30_000;

/**
 * Live trust of one account's devices, across every gateway process, for operators watching it.
 * Publishing costs one Map lookup unless someone watches that account: a watcher announces the
 * account on `<prefix>console:watch` (renewed while it watches), every process remembers the
 * announcement, and only then publishes that account's verdicts on `<prefix>console:trust:<id>`.
 */
export class TrustFeed {
  private readonly watched = new Map<string, number>();
  private readonly listeners = new Map<string, Set<(point: TrustPoint) => void>>();
  private readonly watchChannel: string;
  private started = false;

  constructor(
    private readonly publisher: RedisClient,
    private readonly subscriber: RedisClient,
    private readonly prefix: string,
    private readonly logger: Logger,
  ) {
    this.watchChannel = `${prefix}console:watch`;
  }

  async start(): Promise<void> {
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.watchChannel) this.noteWatch(message);
      else if (channel.startsWith(this.trustChannel(''))) this.deliver(channel.slice(this.trustChannel('').length), message);
    });
    // ioredis subscribes again by itself after a reconnect (autoResubscribe).
    if (this.subscriber.status === 'wait') await this.subscriber.connect();
    await this.subscriber.subscribe(this.watchChannel);
    this.started = true;
  }

  private noteWatch(userId: string): void {
    const now = Date.now();
    // Watches of accounts that never stream expire here, so the map holds only live watches.
    for (const [id, until] of this.watched) if (until < now) this.watched.delete(id);
    this.watched.set(userId, now + WATCH_MS);
  }

  /** Called for every verdict; publishes only for accounts someone watches. */
  publish(userId: string, point: TrustPoint): void {
    const until = this.watched.get(userId);
    if (until === undefined) return;
    if (until < Date.now()) {
      this.watched.delete(userId);
      return;
    }
    this.publisher.publish(this.trustChannel(userId), JSON.stringify(point)).catch((err: unknown) => {
      this.logger.debug({ err }, 'trust feed publish failed');
    });
  }

  /** Receives `userId`'s trust points until the returned function is called. */
  async watch(userId: string, listener: (point: TrustPoint) => void): Promise<() => Promise<void>> {
    if (!this.started) throw new Error('TrustFeed.watch before start()');
    let set = this.listeners.get(userId);
    if (!set) {
      const fresh = new Set<(point: TrustPoint) => void>();
      this.listeners.set(userId, (set = fresh));
      try {
        await this.subscriber.subscribe(this.trustChannel(userId));
      } catch (err) {
        // Not subscribed: forget the set, or every later watch of this account would hear nothing.
        if (this.listeners.get(userId) === fresh && fresh.size === 0) this.listeners.delete(userId);
        throw err;
      }
    }
    set.add(listener);
    const announce = () => void this.publisher.publish(this.watchChannel, userId).catch(() => undefined);
    announce();
    const renew = setInterval(announce, WATCH_MS / 3);
    return async () => {
      clearInterval(renew);
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(userId) === set) {
        this.listeners.delete(userId);
        await this.subscriber.unsubscribe(this.trustChannel(userId)).catch(() => undefined);
      }
    };
  }

  private trustChannel(userId: string): string {
    return `${this.prefix}console:trust:${userId}`;
  }

  private deliver(userId: string, message: string): void {
    const set = this.listeners.get(userId);
    if (!set) return;
    let point: TrustPoint;
    try {
      point = JSON.parse(message) as TrustPoint;
    } catch {
      return;
    }
    for (const listener of set) listener(point);
  }
}
