import { describe, expect, it } from 'vitest';
import { walking } from '../../../test/support/wisdm.ts';
import { SHINGLE_ROWS, fingerprints } from './replay-fingerprint.ts';

const OPTIONS = { quantum: 0.8, minMotion: 0.8 };

describe('replay fingerprints', () => {
  it('a window read through a wrapped ring buffer gives the fingerprints of the same rows read in order', async () => {
    const walk = [...(await walking()).values()][0]!;
    const rows = 50;
    const window = walk.data.slice(300 * 3, (300 + rows) * 3);
    // The same rows in a ring whose start lies 17 rows in: rows 33…49 of the window come first.
    const ring = new Float32Array(rows * 3);
    const start = 17;
    for (let i = 0; i < rows; i++) ring.set(window.subarray(i * 3, i * 3 + 3), ((start + i) % rows) * 3);
    const linear = fingerprints(window, rows, 3, OPTIONS);
    expect(linear.length).toBeGreaterThan(2);
    expect(fingerprints(ring, rows, 3, OPTIONS, (i) => (start + i) % rows)).toEqual(linear);
  });

  it('the same rows give the same fingerprints wherever a window starts, and a device at rest gives none', async () => {
    const walk = [...(await walking()).values()][0]!;
    const long = fingerprints(walk.data.subarray(0, 200 * 3), 200, 3, OPTIONS);
    const later = fingerprints(walk.data.subarray(40 * 3, 200 * 3), 160, 3, OPTIONS);
    expect(later.length).toBeGreaterThan(0);
    expect(long).toEqual(expect.arrayContaining(later));
    const still = new Float32Array(SHINGLE_ROWS * 10 * 3).map((_, i) => (i % 3 === 2 ? 9.81 : 0) + (i % 7) * 0.01);
    expect(fingerprints(still, SHINGLE_ROWS * 10, 3, OPTIONS)).toEqual([]);
  });
});
