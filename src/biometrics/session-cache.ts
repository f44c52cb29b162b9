/**
 * A bounded least-recently-used cache of things that are expensive to create and must be
 * released (onnxruntime sessions). Creation is shared: concurrent gets of one key await the
 * same promise. A failed creation is not cached.
 */
export class SessionCache<T> {
  private readonly entries = new Map<string, Promise<T>>();

  constructor(
    readonly capacity: number,
    private readonly release: (value: T) => Promise<void> | void,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new TypeError(`capacity must be a positive integer, got ${capacity}`);
  }

  get size(): number {
    return this.entries.size;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  get(key: string, create: () => Promise<T>): Promise<T> {
    const hit = this.entries.get(key);
    if (hit) {
      // Map iteration order is insertion order: re-inserting marks the key most recently used.
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const created = create();
    this.entries.set(key, created);
    created.catch(() => {
      if (this.entries.get(key) === created) this.entries.delete(key);
    });
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as string;
      const evicted = this.entries.get(oldest) as Promise<T>;
      this.entries.delete(oldest);
      evicted.then(this.release, () => {});
    }
    return created;
  }

  async clear(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    for (const entry of all) await entry.then(this.release, () => {});
  }
}
