import { describe, expect, it } from 'vitest';
import { RealFft, nextPowerOfTwo } from './real-fft.ts';

/** The definition, O(N²): the independent reference. */
function naiveDft(x: number[]): { re: number[]; im: number[] } {
  const n = x.length;
  const re: number[] = [];
  const im: number[] = [];
  for (let k = 0; k <= n / 2; k++) {
    let r = 0;
    let i = 0;
    for (let t = 0; t < n; t++) {
      r += (x[t] as number) * Math.cos((2 * Math.PI * k * t) / n);
      i -= (x[t] as number) * Math.sin((2 * Math.PI * k * t) / n);
    }
    re.push(r);
    im.push(i);
  }
  return { re, im };
}

describe('RealFft', () => {
  it.each([2, 4, 8, 16, 64, 256])('matches a naive DFT at N=%i', (n) => {
    let seed = n;
    const x = Array.from({ length: n }, () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648 - 0.5;
    });
    const fft = new RealFft(n);
    const re = new Float64Array(n / 2 + 1);
    const im = new Float64Array(n / 2 + 1);
    fft.transform(x, re, im);
    const ref = naiveDft(x);
    for (let k = 0; k <= n / 2; k++) {
      expect(re[k]).toBeCloseTo(ref.re[k] as number, 9);
      expect(im[k]).toBeCloseTo(ref.im[k] as number, 9);
    }
  });

  it('puts a pure tone in its bin', () => {
    const n = 32;
    const x = Array.from({ length: n }, (_, t) => 3 * Math.cos((2 * Math.PI * 5 * t) / n));
    const fft = new RealFft(n);
    const re = new Float64Array(17);
    const im = new Float64Array(17);
    const power = new Float64Array(17);
    fft.power(x, re, im, power);
    expect(power[5]).toBeCloseTo(((3 * n) / 2) ** 2, 6);
    expect(power[4]).toBeCloseTo(0, 9);
  });

  it('rejects sizes that are not powers of two', () => {
    expect(() => new RealFft(12)).toThrow(/power of two/);
    expect(nextPowerOfTwo(50)).toBe(64);
    expect(nextPowerOfTwo(64)).toBe(64);
  });
});
