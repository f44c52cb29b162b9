import type { FeatureSpec } from '../../../protocol/biometrics.ts';
import { defaultWindow, secondsToSamples } from './windowing.ts';

export type { FeatureSpec };

export interface SampleSpecOptions {
  modality?: string;
  rate: number;
  channels: readonly string[];
  /** Window length in seconds; default per modality (see MODALITY_WINDOWS). */
  window?: number | undefined;
  /** Hop in seconds; default half the window. */
  hop?: number | undefined;
  /** Featurise the vector magnitude too; default when there are 2–3 channels (one vector sensor). */
  magnitude?: boolean;
  /** Pairwise channel correlations; default for 2–16 channels. */
  correlations?: boolean;
  /** Band edges in Hz; default 6 log-spaced bands from 1/window to Nyquist. */
  bands?: readonly number[];
  /** Cadence search range in Hz for the autocorrelation peak; default [0.5, 4] (30–240 per minute). */
  cadence?: readonly [number, number];
}

/** Fewest samples a window may have: below this, spectra and percentiles mean nothing. */
export const MIN_WINDOW_SAMPLES = 8;

/**
 * Time-domain statistics computed for every signal (each channel and the magnitude). Spreads
 * and energies are logged (`log…`, natural log of value + 1e-6): they are positive and
 * heavy-tailed, and distance and linear detectors work better on their logarithm.
 */
export const TIME_FEATURES = [
  'mean',
  'logStd',
  'min',
  'max',
  'p10',
  'p25',
  'p50',
  'p75',
  'p90',
  'logMad',
  'logEnergy',
  'meanCross',
  'logJerkMean',
  'logJerkStd',
] as const;
/** Zero crossings are meaningless on a magnitude (never negative), so channels only. */
export const CHANNEL_ONLY_FEATURES = ['zeroCross'] as const;
export const CADENCE_FEATURES = ['domFreq', 'acPeak', 'acLag'] as const;

function fail(message: string): never {
  throw new TypeError(message);
}

function defaultBands(windowSeconds: number, rate: number): number[] {
  const low = 1 / windowSeconds;
  const high = rate / 2;
  const count = 6;
  return Array.from({ length: count + 1 }, (_, i) => Number((low * (high / low) ** (i / count)).toFixed(4)));
}

/** Signal names: the channels, then `mag` when the magnitude is featurised. */
export function signalNames(spec: Pick<FeatureSpec, 'channels' | 'magnitude'>): string[] {
  if (!spec.magnitude) return [...spec.channels];
  const mag = spec.channels.includes('mag') ? '_mag' : 'mag';
  return [...spec.channels, mag];
}

function featureNames(spec: Omit<FeatureSpec, 'names'>): string[] {
  const names: string[] = [];
  const signals = signalNames(spec);
  signals.forEach((signal, s) => {
    const isChannel = s < spec.channels.length;
    for (const f of TIME_FEATURES) names.push(`${signal}.${f}`);
    if (isChannel) for (const f of CHANNEL_ONLY_FEATURES) names.push(`${signal}.${f}`);
    for (let b = 0; b + 1 < spec.bands.length; b++) names.push(`${signal}.band${b}`);
    for (const f of CADENCE_FEATURES) names.push(`${signal}.${f}`);
  });
  if (spec.correlations) {
    for (let i = 0; i < spec.channels.length; i++) {
      for (let j = i + 1; j < spec.channels.length; j++) names.push(`corr.${spec.channels[i]}.${spec.channels[j]}`);
    }
  }
  return names;
}

/** The spec for windows of raw samples. Throws TypeError naming the bad option. */
export function sampleFeatureSpec(options: SampleSpecOptions): FeatureSpec {
  const modality = options.modality ?? 'motion';
  const { rate, channels } = options;
  if (!(typeof rate === 'number' && rate > 0 && Number.isFinite(rate)))
    fail(`options.rate must be a positive number, got ${String(rate)}`);
  if (channels.length === 0) fail('options.channels must name at least one channel');
  if (new Set(channels).size !== channels.length) fail('options.channels must not repeat a name');
  const defaults = defaultWindow(modality);
  const window = options.window ?? defaults.window;
  const hop = options.hop ?? (options.window !== undefined ? window / 2 : defaults.hop);
  if (!(window > 0 && Number.isFinite(window)))
    fail(`options.window must be a positive number of seconds, got ${String(window)}`);
  if (!(hop > 0 && Number.isFinite(hop))) fail(`options.hop must be a positive number of seconds, got ${String(hop)}`);
  const windowSamples = secondsToSamples(window, rate);
  const hopSamples = secondsToSamples(hop, rate);
  if (windowSamples < MIN_WINDOW_SAMPLES) {
    fail(`options.window must span at least ${MIN_WINDOW_SAMPLES} samples; ${window} s at ${rate} Hz is ${windowSamples}`);
  }
  const bands = [...(options.bands ?? defaultBands(window, rate))];
  if (bands.length === 1) fail('options.bands must list at least two edges (or none)');
  for (let i = 0; i < bands.length; i++) {
    const edge = bands[i] as number;
    if (!(edge >= 0 && edge <= rate / 2 + 1e-9)) fail(`options.bands[${i}] must be within 0..${rate / 2} Hz, got ${edge}`);
    if (i > 0 && !(edge > (bands[i - 1] as number))) fail('options.bands must be strictly ascending');
  }
  const cadence = options.cadence ?? [0.5, 4];
  if (!(cadence[0] > 0 && cadence[1] > cadence[0]))
    fail(`options.cadence must be [low, high] Hz with 0 < low < high, got [${cadence.join(', ')}]`);
  const base = {
    version: 1 as const,
    kind: 'samples' as const,
    modality,
    rate,
    channels: [...channels],
    window,
    hop,
    windowSamples,
    hopSamples,
    magnitude: options.magnitude ?? (channels.length >= 2 && channels.length <= 3),
    correlations: options.correlations ?? (channels.length >= 2 && channels.length <= 16),
    bands,
    cadence: [cadence[0], cadence[1]] as [number, number],
  };
  return { ...base, names: featureNames(base) };
}

/** The spec for ready-made feature rows: each row passes through unchanged, one row per test. */
export function rowFeatureSpec(options: { modality?: string; columns: readonly string[] }): FeatureSpec {
  if (options.columns.length === 0) fail('options.columns must name at least one column');
  if (new Set(options.columns).size !== options.columns.length) fail('options.columns must not repeat a name');
  return {
    version: 1,
    kind: 'features',
    modality: options.modality ?? 'features',
    rate: 0,
    channels: [...options.columns],
    window: 0,
    hop: 0,
    windowSamples: 1,
    hopSamples: 1,
    magnitude: false,
    correlations: false,
    bands: [],
    cadence: [0.5, 4],
    names: [...options.columns],
  };
}
