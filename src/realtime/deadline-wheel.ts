/** Something with at most one pending deadline; the wheel keeps its bookkeeping on it. */
export interface Scheduled {
  /** Wheel slot the item sits in, or -1. Owned by the wheel. */
  wheelSlot: number;
}

/**
 * One timer for every socket's next deadline (auth timeout, expiry warning, expiry) instead of
 * a Timeout object per socket: each item costs one number and a Set entry, and a tick touches
 * only the slots that are due. Deadlines fire up to `resolutionMs` late, never early.
 */
export class DeadlineWheel<T extends Scheduled> {
  private readonly slots = new Map<number, Set<T>>();
  private timer: NodeJS.Timeout | undefined;
  private lastTicked: number;

  constructor(
    private readonly onDue: (item: T, now: number) => void,
    private readonly onError: (err: unknown) => void,
    private readonly resolutionMs = 250,
    private readonly now: () => number = Date.now,
  ) {
    this.lastTicked = Math.floor(this.now() / resolutionMs) - 1;
  }

  start(): void {
    this.timer ??= setInterval(() => this.tick(), this.resolutionMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** (Re)schedules `item` at epoch ms `at`, replacing its earlier deadline. */
  schedule(item: T, at: number): void {
    this.cancel(item);
    // Round up, so an item never fires before its deadline; never into a slot already ticked.
    const slot = Math.max(Math.ceil(at / this.resolutionMs), this.lastTicked + 1);
    let set = this.slots.get(slot);
    if (!set) this.slots.set(slot, (set = new Set()));
    set.add(item);
    item.wheelSlot = slot;
  }

  cancel(item: T): void {
    if (item.wheelSlot < 0) return;
    const set = this.slots.get(item.wheelSlot);
    if (set) {
      set.delete(item);
      if (set.size === 0) this.slots.delete(item.wheelSlot);
    }
    item.wheelSlot = -1;
  }

  get size(): number {
    let n = 0;
    for (const set of this.slots.values()) n += set.size;
    return n;
  }

  /** Fires every item whose slot has come; public so tests can drive time. */
  tick(): void {
    const now = this.now();
    const current = Math.floor(now / this.resolutionMs);
    // Walk slot numbers when few have passed (the normal case); after a long stall, the map.
    if (current - this.lastTicked <= this.slots.size) {
      for (let slot = this.lastTicked + 1; slot <= current; slot++) this.fire(slot, now);
    } else {
      for (const slot of [...this.slots.keys()].filter((s) => s <= current).sort((a, b) => a - b)) this.fire(slot, now);
    }
    this.lastTicked = current;
  }

  private fire(slot: number, now: number): void {
    const set = this.slots.get(slot);
    if (!set) return;
    this.slots.delete(slot);
    for (const item of set) {
      item.wheelSlot = -1;
      // A throwing handler must not strand the rest of the slot.
      try {
        this.onDue(item, now);
      } catch (err) {
        this.onError(err);
      }
    }
  }
}
