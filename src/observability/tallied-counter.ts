import { Counter, type Registry } from 'prom-client';

/**
 * A counter for paths taken per socket message: `add` is a plain addition, handed to prom-client
 * only when the registry is read (a scrape, or `get()`). A labelled prom-client `inc` builds and
 * looks up a label key on every call, which at thousands of frames a second is measurable.
 * Label values are fixed up front, so every series exists (at 0) from the start.
 */
export class TalliedCounter<V extends string> {
  readonly counter: Counter;
  private readonly pending: Record<V, number>;

  constructor(config: { name: string; help: string; label: string; values: readonly V[]; registers: Registry[] }) {
    const { label, values } = config;
    const pending = Object.fromEntries(values.map((value) => [value, 0])) as Record<V, number>;
    this.pending = pending;
    this.counter = new Counter({
      name: config.name,
      help: config.help,
      labelNames: [label],
      registers: config.registers,
      collect() {
        for (const value of values) {
          this.inc({ [label]: value }, pending[value]);
          pending[value] = 0;
        }
      },
    });
  }

  add(value: V, n = 1): void {
    this.pending[value] += n;
  }
}

/** The same without labels. */
export class TalliedTotal {
  readonly counter: Counter;
  private pending = 0;

  constructor(config: { name: string; help: string; registers: Registry[] }) {
    const take = () => {
      const n = this.pending;
      this.pending = 0;
      return n;
    };
    this.counter = new Counter({
      ...config,
      collect() {
        this.inc(take());
      },
    });
  }

  add(n = 1): void {
    this.pending += n;
  }
}
