import type { FeatureSpec } from '../../../protocol/biometrics.ts';
import { RealFft, nextPowerOfTwo } from './real-fft.ts';
import { signalNames } from './feature-spec.ts';

/** Keeps log() finite on a silent band without moving any real band energy. */
const LOG_FLOOR = 1e-12;
/** Added before logging spreads and energies (the `log…` time features). */
const LOG_OFFSET = 1e-6;

/**
 * Computes one feature vector per window, exactly as named in `spec.names`. One instance per
 * spec (and per thread): every buffer is allocated in the constructor, so extract() allocates
 * nothing and the socket path can call it thousands of times per second.
 */
export class FeatureExtractor {
  readonly spec: FeatureSpec;
  readonly dimension: number;
  private readonly n: number;
  private readonly channels: number;
  private readonly signals: Float64Array[];
  private readonly sorted: Float64Array;
  private readonly deviation: Float64Array;
  private readonly fft: RealFft | undefined;
  private readonly fftIn: Float64Array;
  private readonly re: Float64Array;
  private readonly im: Float64Array;
  private readonly power: Float64Array;
  private readonly taper: Float64Array;
  private readonly powerScale: number;
  private readonly bandFrom: Int32Array;
  private readonly bandTo: Int32Array;
  private readonly lagFrom: number;
  private readonly lagTo: number;
  private readonly means: Float64Array;
  private readonly stds: Float64Array;

  constructor(spec: FeatureSpec) {
    this.spec = spec;
    this.dimension = spec.names.length;
    this.channels = spec.channels.length;
    const n = spec.kind === 'features' ? 1 : spec.windowSamples;
    this.n = n;
    const signalCount = spec.kind === 'features' ? 0 : signalNames(spec).length;
    this.signals = Array.from({ length: signalCount }, () => new Float64Array(n));
    this.sorted = new Float64Array(n);
    this.deviation = new Float64Array(n);
    this.means = new Float64Array(signalCount);
    this.stds = new Float64Array(signalCount);

    const nfft = nextPowerOfTwo(n);
    this.fft = spec.kind === 'features' ? undefined : new RealFft(nfft);
    this.fftIn = new Float64Array(nfft);
    this.re = new Float64Array(nfft / 2 + 1);
    this.im = new Float64Array(nfft / 2 + 1);
    this.power = new Float64Array(nfft / 2 + 1);
    // Hann taper limits leakage from the window edges into neighbouring bands.
    this.taper = new Float64Array(n);
    let taperEnergy = 0;
    for (let i = 0; i < n; i++) {
      const w = n > 1 ? 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1)) : 1;
      this.taper[i] = w;
      taperEnergy += w * w;
    }
    this.powerScale = taperEnergy > 0 ? 1 / taperEnergy : 0;

    const bandCount = Math.max(0, spec.bands.length - 1);
    this.bandFrom = new Int32Array(bandCount);
    this.bandTo = new Int32Array(bandCount);
    const binHz = spec.rate / nfft;
    const lastBin = nfft / 2;
    for (let b = 0; b < bandCount; b++) {
      const lo = spec.bands[b] as number;
      const hi = spec.bands[b + 1] as number;
      const isLast = b === bandCount - 1;
      // Bin k covers frequency k·binHz; the top band includes Nyquist itself.
      this.bandFrom[b] = Math.min(lastBin + 1, Math.ceil(lo / binHz - 1e-9));
      this.bandTo[b] = Math.min(lastBin + 1, isLast && hi >= spec.rate / 2 - 1e-9 ? lastBin + 1 : Math.ceil(hi / binHz - 1e-9));
    }
    const lagCap = Math.max(1, Math.floor(n * 0.75));
    this.lagFrom = Math.min(lagCap, Math.max(1, Math.floor(spec.rate / spec.cadence[1])));
    this.lagTo = Math.max(this.lagFrom, Math.min(lagCap, Math.ceil(spec.rate / spec.cadence[0])));
  }

  /**
   * Features of the window starting at sample `start` of interleaved `src` (channel order of
   * the spec) into `out[outOffset … outOffset + dimension)`. With `ringSamples`, `src` is a ring
   * buffer of that many samples and indices wrap. Feature-row specs copy row `start`.
   */
  extract(src: Float32Array, start: number, out: Float32Array, outOffset = 0, ringSamples = 0): void {
    const c = this.channels;
    if (this.spec.kind === 'features') {
      const row = ringSamples > 0 ? start % ringSamples : start;
      for (let j = 0; j < c; j++) out[outOffset + j] = src[row * c + j] as number;
      return;
    }
    const n = this.n;
    if (ringSamples === 0 && (start + n) * c > src.length) {
      throw new RangeError(`window [${start}, ${start + n}) runs past ${src.length / c} samples`);
    }
    const signals = this.signals;
    const magnitude = this.spec.magnitude ? (signals[c] as Float64Array) : undefined;
    let index = ringSamples > 0 ? start % ringSamples : start;
    for (let t = 0; t < n; t++) {
      let squares = 0;
      const base = index * c;
      for (let j = 0; j < c; j++) {
        const v = src[base + j] as number;
        (signals[j] as Float64Array)[t] = v;
        squares += v * v;
      }
      if (magnitude) magnitude[t] = Math.sqrt(squares);
      index++;
      if (index === ringSamples) index = 0;
    }
    let o = outOffset;
    for (let s = 0; s < signals.length; s++) o = this.signalFeatures(s, s < c, out, o);
    if (this.spec.correlations) {
      for (let i = 0; i < c; i++) {
        for (let j = i + 1; j < c; j++) out[o++] = this.correlation(i, j);
      }
    }
  }

  private signalFeatures(s: number, isChannel: boolean, out: Float32Array, o: number): number {
    const n = this.n;
    const rate = this.spec.rate;
    const x = this.signals[s] as Float64Array;

    let sum = 0;
    let squares = 0;
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < n; i++) {
      const v = x[i] as number;
      sum += v;
      squares += v * v;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const mean = sum / n;
    // Mean-removed signal, kept for the autocorrelation; its energy is also the lag-0 term there.
    const centredSignal = this.deviation;
    let centred = 0;
    for (let i = 0; i < n; i++) {
      const d = (x[i] as number) - mean;
      centredSignal[i] = d;
      centred += d * d;
    }
    const std = Math.sqrt(centred / n);
    this.means[s] = mean;
    this.stds[s] = std;

    const sorted = this.sorted;
    sorted.set(x);
    sorted.sort();
    const median = quantile(sorted, 0.5);

    let meanCross = 0;
    let zeroCross = 0;
    let jerkAbs = 0;
    let jerkSum = 0;
    let jerkSquares = 0;
    for (let i = 1; i < n; i++) {
      const a = x[i - 1] as number;
      const b = x[i] as number;
      if (a - mean >= 0 !== b - mean >= 0) meanCross++;
      if (a >= 0 !== b >= 0) zeroCross++;
      const jerk = (b - a) * rate;
      jerkAbs += Math.abs(jerk);
      jerkSum += jerk;
      jerkSquares += jerk * jerk;
    }
    const pairs = n - 1;
    const jerkMean = jerkSum / pairs;

    out[o++] = mean;
    out[o++] = Math.log(std + LOG_OFFSET);
    out[o++] = min;
    out[o++] = max;
    out[o++] = quantile(sorted, 0.1);
    out[o++] = quantile(sorted, 0.25);
    out[o++] = median;
    out[o++] = quantile(sorted, 0.75);
    out[o++] = quantile(sorted, 0.9);
    out[o++] = Math.log(medianDeviation(sorted, median) + LOG_OFFSET);
    out[o++] = Math.log(squares / n + LOG_OFFSET);
    out[o++] = meanCross / pairs;
    out[o++] = Math.log(jerkAbs / pairs + LOG_OFFSET);
    out[o++] = Math.log(Math.sqrt(Math.max(0, jerkSquares / pairs - jerkMean * jerkMean)) + LOG_OFFSET);
    if (isChannel) out[o++] = zeroCross / pairs;
    o = this.spectralFeatures(x, mean, out, o);
    return this.autocorrelationFeatures(centredSignal, centred, out, o);
  }

  private spectralFeatures(x: Float64Array, mean: number, out: Float32Array, o: number): number {
    const { fftIn, taper, power } = this;
    for (let i = 0; i < this.n; i++) fftIn[i] = ((x[i] as number) - mean) * (taper[i] as number);
    (this.fft as RealFft).power(fftIn, this.re, this.im, power);
    for (let b = 0; b < this.bandFrom.length; b++) {
      let energy = 0;
      for (let k = this.bandFrom[b] as number; k < (this.bandTo[b] as number); k++) energy += power[k] as number;
      out[o++] = Math.log(energy * this.powerScale + LOG_FLOOR);
    }
    let best = 0;
    let bestPower = 0;
    for (let k = 1; k < power.length; k++) {
      if ((power[k] as number) > bestPower) {
        bestPower = power[k] as number;
        best = k;
      }
    }
    out[o++] = (best * this.spec.rate) / this.fftIn.length;
    return o;
  }

  /**
   * Autocorrelation peak within the cadence range: how periodic, and at what period. `y` is the
   * mean-removed signal and `zeroLag` its energy. Four lags are summed per pass over `y` (fewer
   * loads, independent sums); each lag still adds its products in ascending order, so every
   * coefficient is bit-for-bit the one-lag-at-a-time sum.
   */
  private autocorrelationFeatures(y: Float64Array, zeroLag: number, out: Float32Array, o: number): number {
    const n = this.n;
    const lagTo = this.lagTo;
    let peak = 0;
    let peakLag = 0;
    if (zeroLag > 0) {
      peak = -Infinity;
      let lag = this.lagFrom;
      for (; lag + 3 <= lagTo; lag += 4) {
        let a0 = 0;
        let a1 = 0;
        let a2 = 0;
        let a3 = 0;
        // Products every one of the four lags has, then each lag's own last few.
        const shared = n - lag - 3;
        let i = 0;
        for (; i < shared; i++) {
          const v = y[i] as number;
          a0 += v * (y[i + lag] as number);
          a1 += v * (y[i + lag + 1] as number);
          a2 += v * (y[i + lag + 2] as number);
          a3 += v * (y[i + lag + 3] as number);
        }
        for (let k = Math.max(0, i); k + lag + 2 < n; k++) a2 += (y[k] as number) * (y[k + lag + 2] as number);
        for (let k = Math.max(0, i); k + lag + 1 < n; k++) a1 += (y[k] as number) * (y[k + lag + 1] as number);
        for (let k = Math.max(0, i); k + lag < n; k++) a0 += (y[k] as number) * (y[k + lag] as number);
        const r0 = a0 / zeroLag;
        if (r0 > peak) {
          peak = r0;
          peakLag = lag;
        }
        const r1 = a1 / zeroLag;
        if (r1 > peak) {
          peak = r1;
          peakLag = lag + 1;
        }
        const r2 = a2 / zeroLag;
        if (r2 > peak) {
          peak = r2;
          peakLag = lag + 2;
        }
        const r3 = a3 / zeroLag;
        if (r3 > peak) {
          peak = r3;
          peakLag = lag + 3;
        }
      }
      for (; lag <= lagTo; lag++) {
        let acc = 0;
        for (let i = 0; i + lag < n; i++) acc += (y[i] as number) * (y[i + lag] as number);
        const r = acc / zeroLag;
        if (r > peak) {
          peak = r;
          peakLag = lag;
        }
      }
    }
    out[o++] = peak;
    out[o++] = peakLag / this.spec.rate;
    return o;
  }

  private correlation(i: number, j: number): number {
    const sx = this.stds[i] as number;
    const sy = this.stds[j] as number;
    if (sx === 0 || sy === 0) return 0;
    const x = this.signals[i] as Float64Array;
    const y = this.signals[j] as Float64Array;
    const mx = this.means[i] as number;
    const my = this.means[j] as number;
    let cov = 0;
    for (let t = 0; t < this.n; t++) cov += ((x[t] as number) - mx) * ((y[t] as number) - my);
    return cov / this.n / (sx * sy);
  }
}

/**
 * The median of |sorted[i] − median| (the linear-interpolated quantile at 0.5, as quantile()
 * would give on the sorted deviations) without sorting them: below the median the deviations
 * grow leftwards, above it rightwards, so merging the two runs outwards from the median yields
 * them in ascending order. Same values, same arithmetic, so the same result bit for bit.
 */
export function medianDeviation(sorted: Float64Array, median: number): number {
  const n = sorted.length;
  const pos = 0.5 * (n - 1);
  const rankLo = Math.floor(pos);
  const rankHi = Math.min(n - 1, rankLo + 1);
  const frac = pos - rankLo;
  // left: the last sample <= median, walking down; right: the first above it, walking up.
  let left = -1;
  while (left + 1 < n && (sorted[left + 1] as number) <= median) left++;
  let right = left + 1;
  let lo = 0;
  let hi = 0;
  for (let rank = 0; rank <= rankHi; rank++) {
    let next: number;
    const fromLeft = left >= 0 ? Math.abs((sorted[left] as number) - median) : Infinity;
    const fromRight = right < n ? Math.abs((sorted[right] as number) - median) : Infinity;
    if (fromLeft <= fromRight) {
      next = fromLeft;
      left--;
    } else {
      next = fromRight;
      right++;
    }
    if (rank === rankLo) lo = next;
    if (rank === rankHi) hi = next;
  }
  return lo * (1 - frac) + hi * frac;
}

/** Linear-interpolated quantile of ascending `sorted` (the "linear" method: position q·(n−1)). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  const frac = pos - lo;
  return (sorted[lo] as number) * (1 - frac) + (sorted[hi] as number) * frac;
}
