/** Receives each complete window: it spans `windowSamples` samples of `ring` from sample `start` (wrapping). */
export interface WindowTarget {
  onWindow(ring: Float32Array, start: number, ringSamples: number): void;
}

/**
 * One stream's bounded ring buffer: exactly one window of interleaved samples. Samples are
 * written as they arrive; every `hop` samples once the first window is full, the target gets the
 * window that just completed, read straight from the ring (the batcher copies it out). Memory is
 * fixed at windowSamples × channels floats whatever the client sends.
 */
export class WindowAssembler {
  readonly ring: Float32Array;
  private write = 0;
  /** Samples still needed before the next window completes. */
  private missing: number;

  /**
   * `channelMap[j]` is where the model's channel j sits in an incoming sample, when the client
   * declared the same channels in another order; omitted when the orders agree.
   */
  constructor(
    readonly channels: number,
    readonly windowSamples: number,
    readonly hopSamples: number,
    private readonly channelMap?: Int32Array,
  ) {
    if (!(Number.isInteger(channels) && channels >= 1))
      throw new RangeError(`channels must be a positive integer, got ${channels}`);
    if (!(Number.isInteger(windowSamples) && windowSamples >= 1))
      throw new RangeError(`windowSamples must be a positive integer, got ${windowSamples}`);
    if (!(Number.isInteger(hopSamples) && hopSamples >= 1))
      throw new RangeError(`hopSamples must be a positive integer, got ${hopSamples}`);
    if (
      channelMap &&
      (channelMap.length !== channels || new Set(channelMap).size !== channels || channelMap.some((k) => k < 0 || k >= channels))
    ) {
      throw new RangeError(`channelMap must be a permutation of 0…${channels - 1}`);
    }
    this.ring = new Float32Array(windowSamples * channels);
    this.missing = windowSamples;
  }

  /** Appends `count` samples (interleaved, `values` may be a view the caller reuses) and emits every window they complete. */
  push(values: Float32Array, count: number, target: WindowTarget): void {
    const c = this.channels;
    const n = this.windowSamples;
    const ring = this.ring;
    let read = 0;
    let left = count;
    while (left > 0) {
      const take = Math.min(left, this.missing);
      // Copy `take` samples, wrapping at the end of the ring.
      let w = this.write * c;
      const end = n * c;
      const stop = read + take * c;
      const map = this.channelMap;
      if (!map) {
        for (let k = read; k < stop; k++) {
          ring[w] = values[k]!;
          if (++w === end) w = 0;
        }
      } else {
        for (let k = read; k < stop; k += c) {
          for (let j = 0; j < c; j++) ring[w + j] = values[k + map[j]!]!;
          w += c;
          if (w === end) w = 0;
        }
      }
      this.write = w / c;
      read = stop;
      left -= take;
      this.missing -= take;
      if (this.missing === 0) {
        // The ring now holds exactly the last window; its oldest sample sits at the write position.
        target.onWindow(ring, this.write, n);
        this.missing = this.hopSamples;
      }
    }
  }

  /** Forgets the partial window (frames went missing: a window across the gap would mix two moments). */
  reset(): void {
    this.missing = this.windowSamples;
  }
}
