import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { windowCount } from '../features/windowing.ts';
import { WindowAssembler, type WindowTarget } from './window-assembler.ts';

/** Collects each emitted window as a plain array, read from the ring as the batcher does. */
function collector(): WindowTarget & { windows: number[][] } {
  const windows: number[][] = [];
  return {
    windows,
    onWindow(ring, start, ringSamples) {
      const c = ring.length / ringSamples;
      const out: number[] = [];
      for (let s = 0; s < ringSamples; s++) {
        const i = (start + s) % ringSamples;
        for (let j = 0; j < c; j++) out.push(ring[i * c + j]!);
      }
      windows.push(out);
    },
  };
}

describe('WindowAssembler', () => {
  it('emits exactly the windows batch windowing cuts, however the samples are split into frames', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 2, max: 12 }),
        fc.integer({ min: 1, max: 16 }),
        fc.integer({ min: 0, max: 80 }),
        fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 40 }),
        (c, window, hop, total, frameSizes) => {
          const values = Float32Array.from({ length: total * c }, (_, i) => i);
          const assembler = new WindowAssembler(c, window, hop);
          const target = collector();
          let at = 0;
          for (let f = 0; at < total; f++) {
            const count = Math.min(frameSizes[f % frameSizes.length]!, total - at);
            // A fresh view per frame, as the transport hands them out.
            assembler.push(values.subarray(at * c, (at + count) * c), count, target);
            at += count;
          }
          const expected = Array.from({ length: windowCount(total, window, hop) }, (_, w) =>
            Array.from(values.subarray(w * hop * c, (w * hop + window) * c)),
          );
          expect(target.windows).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps memory fixed at one window and restarts the window after reset (a gap)', () => {
    const assembler = new WindowAssembler(3, 4, 2);
    expect(assembler.ring.length).toBe(12);
    const target = collector();
    const samples = (from: number, n: number) => Float32Array.from({ length: n * 3 }, (_, i) => from * 3 + i);
    assembler.push(samples(0, 3), 3, target);
    assembler.reset();
    assembler.push(samples(100, 5), 5, target);
    // Nothing from before the gap: the first window is samples 100–103, then 102–105 needs one more.
    expect(target.windows).toEqual([Array.from(samples(100, 4))]);
    assembler.push(samples(105, 1), 1, target);
    expect(target.windows[1]).toEqual(Array.from(samples(102, 4)));
  });

  it('reorders channels declared in another order than the model’s', () => {
    // The client sends (z, x, y); the model reads (x, y, z): model channel j is incoming channel map[j].
    const assembler = new WindowAssembler(3, 2, 1, Int32Array.from([1, 2, 0]));
    const target = collector();
    assembler.push(Float32Array.from([3, 1, 2, 30, 10, 20]), 2, target);
    expect(target.windows).toEqual([[1, 2, 3, 10, 20, 30]]);
    expect(() => new WindowAssembler(3, 2, 1, Int32Array.from([0, 0, 1]))).toThrow(/permutation/);
  });

  it('refuses shapes that cannot window', () => {
    expect(() => new WindowAssembler(0, 4, 2)).toThrow(/channels/);
    expect(() => new WindowAssembler(1, 0, 2)).toThrow(/windowSamples/);
    expect(() => new WindowAssembler(1, 4, 1.5)).toThrow(/hopSamples/);
  });
});
