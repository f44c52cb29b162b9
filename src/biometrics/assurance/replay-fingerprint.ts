/**
 * Fingerprints of raw sample runs, to recognise data the account has sent before, also when it
 * comes back edited: shifted, offset per axis, lightly noised or re-encoded. A fresh recording of
 * the same person never repeats them, because no two walks trace the same shape on every axis for
 * three quarters of a second.
 *
 * A shingle is `BLOCKS` consecutive blocks of `BLOCK_ROWS` rows. Each block is averaged per
 * channel (independent noise shrinks), each channel is centred over the shingle (a constant offset
 * vanishes), and the shape left is quantised to `quantum` and hashed (FNV-1a, 32 bits) on
 * four grids offset by a quarter of the step from each other: a value that sits on a bin edge in one grid
 * sits inside a bin in another. Shingles with almost no motion are skipped (a device at rest looks
 * alike whoever holds it). Only hashes that are 0 mod `SAMPLE_MODULUS` are kept, for the index and
 * the query alike, so the same runs are kept on both sides whatever the window alignment.
 *
 * Measured with `npm run eval:replay` (subject-level cross-validation on the WISDM walks): every
 * shift or per-axis offset and uniform noise up to ±0.1 m/s² read `replay` in nearly every window;
 * stronger noise escapes more and more (docs/biometrics.md has the table).
 */
export const BLOCK_ROWS = 3;
export const BLOCKS = 5;
export const SHINGLE_ROWS = BLOCK_ROWS * BLOCKS;
/** A power of two: the kept hashes are those whose low bits are zero. */
export const SAMPLE_MODULUS = 8;

export interface FingerprintOptions {
  /** Quantisation step of the centred block means (units of the samples). */
  quantum: number;
  /** Shingles whose centred block means have a smaller RMS are skipped (units of the samples). */
  minMotion: number;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** Murmur3's finaliser: every input bit reaches the low bits, which decide what is kept. */
function finish(hash: number): number {
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
  return hash ^ (hash >>> 16);
}

function keep(out: number[], hash: number): void {
  if ((hash & (SAMPLE_MODULUS - 1)) === 0) out.push(hash >>> 0);
}

let buffer = new Float64Array(0);
/** Block means of one call: fingerprints run on one thread, one call at a time. */
function scratch(length: number): Float64Array {
  if (buffer.length < length) buffer = new Float64Array(length);
  return buffer;
}

/**
 * The kept fingerprints of `rows` rows of `channels` interleaved values; `rowAt(i)` maps a window
 * row to its row in `values` (a ring buffer wraps), by default the identity.
 */
export function fingerprints(
  values: Float32Array,
  rows: number,
  channels: number,
  options: FingerprintOptions,
  rowAt: (i: number) => number = (i) => i,
): number[] {
  const out: number[] = [];
  const starts = rows - SHINGLE_ROWS + 1;
  if (starts <= 0) return out;
  const { quantum, minMotion } = options;
  const perStep = 1 / quantum;
  // Every block mean once: block r averages rows r .. r + BLOCK_ROWS − 1, the same sum wherever the window starts.
  const blockRows = rows - BLOCK_ROWS + 1;
  const means = scratch(blockRows * channels);
  for (let r = 0; r < blockRows; r++) {
    const a = rowAt(r) * channels;
    const b = rowAt(r + 1) * channels;
    const d = rowAt(r + 2) * channels;
    for (let c = 0; c < channels; c++) means[r * channels + c] = (values[a + c]! + values[b + c]! + values[d + c]!) / BLOCK_ROWS;
  }
  const size = BLOCKS * channels;
  const whole = new Int32Array(size);
  const part = new Float64Array(size);
  const minEnergy = minMotion * minMotion * size;
  for (let first = 0; first < starts; first++) {
    let energy = 0;
    for (let c = 0; c < channels; c++) {
      let centre = 0;
      for (let b = 0; b < BLOCKS; b++) centre += means[(first + b * BLOCK_ROWS) * channels + c]!;
      centre /= BLOCKS;
      for (let b = 0; b < BLOCKS; b++) {
        const v = means[(first + b * BLOCK_ROWS) * channels + c]! - centre;
        energy += v * v;
        const steps = v * perStep;
        const floor = Math.floor(steps);
        whole[b * channels + c] = floor;
        part[b * channels + c] = steps - floor;
      }
    }
    if (energy < minEnergy) continue;
    // The four grids are shifted by 0, ¼, ½ and ¾ of a step: a value moves up one bin in grid g
    // when its fraction reaches 1 − g/4. One pass hashes all four (one multiply per value each).
    let h0 = FNV_OFFSET;
    let h1 = FNV_OFFSET ^ 1;
    let h2 = FNV_OFFSET ^ 2;
    let h3 = FNV_OFFSET ^ 3;
    for (let i = 0; i < size; i++) {
      const q = whole[i]!;
      const f = part[i]!;
      h0 = Math.imul(h0 ^ (q & 0xffff), FNV_PRIME);
      h1 = Math.imul(h1 ^ ((f >= 0.75 ? q + 1 : q) & 0xffff), FNV_PRIME);
      h2 = Math.imul(h2 ^ ((f >= 0.5 ? q + 1 : q) & 0xffff), FNV_PRIME);
      h3 = Math.imul(h3 ^ ((f >= 0.25 ? q + 1 : q) & 0xffff), FNV_PRIME);
    }
    keep(out, finish(h0));
    keep(out, finish(h1));
    keep(out, finish(h2));
    keep(out, finish(h3));
  }
  return out;
}
