/** Counts work in flight (requests, writes started by events) so shutdown can wait for it. */
export class InFlight {
  private count = 0;
  private waiters: Array<() => void> = [];
  enter(): void {
    this.count++;
  }
  leave(): void {
    this.count--;
    if (this.count === 0) for (const wake of this.waiters.splice(0)) wake();
  }
  /** Counts `work` until it settles, whichever way. */
  track(work: Promise<unknown>): void {
    this.enter();
    const done = () => this.leave();
    work.then(done, done);
  }
  get size(): number {
    return this.count;
  }
  idle(): Promise<void> {
    return this.count === 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }
}
