/**
 * Real-input FFT of a power-of-two length N, computed as a complex FFT of N/2 points on the
 * even/odd samples packed as re/im, then untangled. All tables and scratch are allocated once
 * per size, so transform() allocates nothing.
 */
export class RealFft {
  readonly size: number;
  private readonly half: number;
  private readonly bitReverse: Uint32Array;
  /** cos/sin of 2πk/half for the complex stage. */
  private readonly cosHalf: Float64Array;
  private readonly sinHalf: Float64Array;
  /** cos/sin of 2πk/size for the untangling step. */
  private readonly cosFull: Float64Array;
  private readonly sinFull: Float64Array;
  private readonly zr: Float64Array;
  private readonly zi: Float64Array;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 2 || (size & (size - 1)) !== 0) {
      throw new RangeError(`RealFft size must be a power of two >= 2, got ${size}`);
    }
    this.size = size;
    const half = size >> 1;
    this.half = half;
    const bits = Math.log2(half);
    this.bitReverse = new Uint32Array(half);
    for (let i = 0; i < half; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
      this.bitReverse[i] = r;
    }
    this.cosHalf = new Float64Array(Math.max(1, half >> 1));
    this.sinHalf = new Float64Array(Math.max(1, half >> 1));
    for (let k = 0; k < half >> 1; k++) {
      this.cosHalf[k] = Math.cos((2 * Math.PI * k) / half);
      this.sinHalf[k] = Math.sin((2 * Math.PI * k) / half);
    }
    this.cosFull = new Float64Array(half + 1);
    this.sinFull = new Float64Array(half + 1);
    for (let k = 0; k <= half; k++) {
      this.cosFull[k] = Math.cos((2 * Math.PI * k) / size);
      this.sinFull[k] = Math.sin((2 * Math.PI * k) / size);
    }
    this.zr = new Float64Array(half);
    this.zi = new Float64Array(half);
  }

  /** X_k = Σ x_n e^{-2πikn/N} for k = 0..N/2 into re/im (each at least N/2+1 long). */
  transform(input: ArrayLike<number>, re: Float64Array, im: Float64Array): void {
    const { half, zr, zi } = this;
    for (let m = 0; m < half; m++) {
      const j = this.bitReverse[m] as number;
      zr[j] = input[2 * m] as number;
      zi[j] = input[2 * m + 1] as number;
    }
    this.complexInPlace();
    for (let k = 0; k <= half; k++) {
      const ka = k === half ? 0 : k;
      const kb = k === 0 ? 0 : half - k;
      const a = zr[ka] as number;
      const b = zi[ka] as number;
      const c = zr[kb] as number;
      const d = zi[kb] as number;
      const er = (a + c) * 0.5;
      const ei = (b - d) * 0.5;
      const or = (b + d) * 0.5;
      const oi = (c - a) * 0.5;
      const cos = this.cosFull[k] as number;
      const sin = this.sinFull[k] as number;
      re[k] = er + cos * or + sin * oi;
      im[k] = ei + cos * oi - sin * or;
    }
  }

  /** |X_k|² for k = 0..N/2 into power (at least N/2+1 long); reuses re/im scratch of the caller. */
  power(input: ArrayLike<number>, re: Float64Array, im: Float64Array, power: Float64Array): void {
    this.transform(input, re, im);
    for (let k = 0; k <= this.half; k++) {
      const r = re[k] as number;
      const i = im[k] as number;
      power[k] = r * r + i * i;
    }
  }

  /** Iterative radix-2 decimation-in-time on the bit-reversed zr/zi. */
  private complexInPlace(): void {
    const { half, zr, zi, cosHalf, sinHalf } = this;
    for (let len = 2; len <= half; len <<= 1) {
      const step = half / len;
      const span = len >> 1;
      for (let start = 0; start < half; start += len) {
        for (let j = 0; j < span; j++) {
          const wr = cosHalf[j * step] as number;
          const wi = -(sinHalf[j * step] as number);
          const p = start + j;
          const q = p + span;
          const qr = zr[q] as number;
          const qi = zi[q] as number;
          const tr = wr * qr - wi * qi;
          const ti = wr * qi + wi * qr;
          const pr = zr[p] as number;
          const pi = zi[p] as number;
          zr[q] = pr - tr;
          zi[q] = pi - ti;
          zr[p] = pr + tr;
          zi[p] = pi + ti;
        }
      }
    }
  }
}

export function nextPowerOfTwo(n: number): number {
  let p = 2;
  while (p < n) p <<= 1;
  return p;
}
