/**
 * Token bucket of one socket's incoming messages: `perSecond` sustained, bursts of as many.
 * Two numbers per socket; the clock is read once per message.
 */
export class MessageRate {
  private tokens: number;
  private at: number;

  constructor(
    private readonly perSecond: number,
    now: number,
  ) {
    this.tokens = perSecond;
    this.at = now;
  }

  /** Takes one token; false when the socket is over its rate. `now` in ms. */
  take(now: number): boolean {
    const elapsed = now - this.at;
    if (elapsed > 0) {
      this.tokens = Math.min(this.perSecond, this.tokens + (elapsed * this.perSecond) / 1000);
      this.at = now;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
