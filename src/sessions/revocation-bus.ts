import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../storage/redis.ts';
import type { Logger } from '../observability/logger.ts';

/** Sessions that just ended, as every gateway process hears it. */
export interface RevocationEvent {
  /** Unique per publication, so a process that hears its own event twice acts once. */
  id: string;
  userId: string;
  sessionIds: string[];
  /** Why: logout, revoked, revoke_all, refresh_reuse, password_changed, … */
  reason: string;
  /** Epoch ms. */
  at: number;
}

export type RevocationListener = (event: RevocationEvent) => void;

/**
 * Revocations on one Redis pub/sub channel (`<REDIS_PREFIX>sessions:revoked`: ioredis'
 * keyPrefix does not touch channel names, so the prefix is added here). The publishing process
 * also dispatches locally at once, so its own listeners never wait for the round trip.
 *
 * If the subscriber connection drops, messages published meanwhile are lost; `healthy` turns
 * false until it is subscribed again, and `onResync` listeners are told to re-check whatever
 * they hold (caches clear, sockets re-validate their sessions).
 */
export class RevocationBus {
  readonly channel: string;
  private readonly listeners = new Set<RevocationListener>();
  private readonly resyncListeners = new Set<() => void>();
  /** Ids of recent events already dispatched here. */
  private readonly seen = new Map<string, number>();
  private subscribed = false;
  private everSubscribed = false;

  constructor(
    private readonly publisher: RedisClient,
    private readonly subscriber: RedisClient,
    prefix: string,
    private readonly logger: Logger,
  ) {
    this.channel = `${prefix}sessions:revoked`;
  }

  async start(): Promise<void> {
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.receive(message);
    });
    // ioredis re-subscribes by itself after a reconnect; we only track whether we may trust it.
    this.subscriber.on('close', () => {
      if (this.subscribed) this.logger.warn({ channel: this.channel }, 'revocation channel lost; verifications bypass caches');
      this.subscribed = false;
    });
    this.subscriber.on('ready', () => void this.subscribe());
    if (this.subscriber.status === 'wait') await this.subscriber.connect();
    await this.subscribe();
  }

  async close(): Promise<void> {
    this.subscribed = false;
    await this.subscriber.quit().catch(() => this.subscriber.disconnect());
  }

  /** True while revocations published anywhere reach this process. */
  get healthy(): boolean {
    return this.subscribed;
  }

  /** Listens for revocations from every process (this one included); returns the unsubscribe. */
  onRevoked(listener: RevocationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called after the subscriber reconnected: revocations may have been missed meanwhile. */
  onResync(listener: () => void): () => void {
    this.resyncListeners.add(listener);
    return () => this.resyncListeners.delete(listener);
  }

  async publish(event: Omit<RevocationEvent, 'id' | 'at'>): Promise<void> {
    if (event.sessionIds.length === 0) return;
    const full: RevocationEvent = { id: randomUUID(), at: Date.now(), ...event };
    this.dispatch(full);
    await this.publisher.publish(this.channel, JSON.stringify(full));
  }

  private async subscribe(): Promise<void> {
    if (this.subscribed) return;
    try {
      await this.subscriber.subscribe(this.channel);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'revocation channel subscribe failed; will retry on reconnect');
      return;
    }
    this.subscribed = true;
    if (this.everSubscribed) {
      this.logger.info({ channel: this.channel }, 'revocation channel back; resyncing');
      for (const listener of this.resyncListeners) listener();
    }
    this.everSubscribed = true;
  }

  private receive(message: string): void {
    let event: RevocationEvent;
    try {
      event = JSON.parse(message) as RevocationEvent;
    } catch {
      this.logger.warn({ channel: this.channel }, 'unreadable revocation message ignored');
      return;
    }
    if (!event || typeof event.id !== 'string' || !Array.isArray(event.sessionIds)) return;
    this.dispatch(event);
  }

  private dispatch(event: RevocationEvent): void {
    if (this.seen.has(event.id)) return;
    const now = Date.now();
    this.seen.set(event.id, now);
    // Our own echo arrives within milliseconds; a minute of memory is plenty.
    if (this.seen.size > 1_000) for (const [id, at] of this.seen) if (now - at > 60_000) this.seen.delete(id);
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.logger.error({ err }, 'revocation listener failed');
      }
    }
  }
}
