/**
 * Fingerprints of raw sample runs, to recognise data the account has sent before. A recording
 * replayed bit for bit (or re-encoded: int16 frames, small noise) repeats the same short runs of
 * quantised samples; a fresh recording of the same person never does, because no two walks put
 * the same values on every axis four samples in a row.
 *
 * A shingle is `SHINGLE_ROWS` consecutive rows (all channels) quantised to `quantum` and hashed
 * (FNV-1a, 32 bits). Only shingles whose hash is 0 mod `SAMPLE_MODULUS` are kept, for the index
 * and the query alike: the same runs are kept on both sides whatever the window alignment, at an
 * eighth of the memory.
 */
export const SHINGLE_ROWS = 4;
export const SAMPLE_MODULUS = 8;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * The kept shingles of `rows` rows of `channels` interleaved values; `row(i)` maps a window row
 * to its offset in `values` (a ring buffer wraps), by default the identity.
 */
export function shingles(
  values: Float32Array,
  rows: number,
  channels: number,
  quantum: number,
  rowAt: (i: number) => number = (i) => i,
): number[] {
  const out: number[] = [];
  for (let first = 0; first + SHINGLE_ROWS <= rows; first++) {
    let hash = FNV_OFFSET;
    for (let r = 0; r < SHINGLE_ROWS; r++) {
      const base = rowAt(first + r) * channels;
      for (let c = 0; c < channels; c++) {
        const q = Math.round(values[base + c]! / quantum) | 0;
        hash = Math.imul(hash ^ (q & 0xff), FNV_PRIME);
        hash = Math.imul(hash ^ ((q >>> 8) & 0xff), FNV_PRIME);
        hash = Math.imul(hash ^ ((q >>> 16) & 0xff), FNV_PRIME);
        hash = Math.imul(hash ^ (q >>> 24), FNV_PRIME);
      }
    }
    hash >>>= 0;
    if (hash % SAMPLE_MODULUS === 0) out.push(hash);
  }
  return out;
}
