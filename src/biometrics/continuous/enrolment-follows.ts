import { InFlight } from '../../server/in-flight.ts';

/**
 * The committed socket enrolments this process is following (waiting on their training to tell the
 * socket). They read the enrolment store until training ends, so the gateway stops them and waits
 * for their last reads before it closes the store.
 */
export class EnrolmentFollows {
  private readonly stopping = new AbortController();
  private readonly running = new InFlight();

  /** Aborted when the gateway closes. */
  get signal(): AbortSignal {
    return this.stopping.signal;
  }

  get size(): number {
    return this.running.size;
  }

  /** Counts a follow until it ends. */
  track(follow: Promise<void>): void {
    this.running.track(follow);
  }

  /** Stops every follow and resolves once each has finished its reads. */
  async close(): Promise<void> {
    this.stopping.abort();
    await this.running.idle();
  }
}
