import type { Calibration, TrustDecision } from '../../protocol/biometrics.ts';
import { windowLlr } from './calibration.ts';

export type { TrustDecision };

/**
 * Sequential trust of one stream: a bounded cumulative log-likelihood ratio (a CUSUM/SPRT
 * hybrid). Each window adds its calibrated LLR (genuine:impostor, nats), clamped to ±maxStep;
 * the sum is kept within [floor, ceiling] so old evidence cannot bank unlimited credit (an
 * impostor who takes over a long-genuine stream starts at most at `ceiling`) or debt.
 */
export interface TrustConfig {
  /** Most evidence one window can add or remove, nats. Default 2. */
  maxStep: number;
  /** Upper bound of trust. Default 6. */
  ceiling: number;
  /** Lower bound of trust. Default −6. */
  floor: number;
  /** Decision is `genuine` at or above this. Default 3. */
  genuineAt: number;
  /** Decision is `impostor` at or below this. Default −3. */
  impostorAt: number;
  /** Trust of a new stream (before any window). Default 0: `uncertain`. */
  initial: number;
}

export const DEFAULT_TRUST_CONFIG: Readonly<TrustConfig> = Object.freeze({
  maxStep: 2,
  ceiling: 6,
  floor: -6,
  genuineAt: 3,
  impostorAt: -3,
  initial: 0,
});

/** Validates a config; messages name the option. */
export function resolveTrustConfig(config: Partial<TrustConfig> = {}): TrustConfig {
  const c: TrustConfig = { ...DEFAULT_TRUST_CONFIG, ...config };
  for (const [key, value] of Object.entries(c)) {
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw new TypeError(`trust.${key} must be a finite number, got ${String(value)}`);
  }
  if (!(c.maxStep > 0)) throw new TypeError(`trust.maxStep must be > 0, got ${c.maxStep}`);
  if (!(c.floor <= c.impostorAt && c.impostorAt < c.genuineAt && c.genuineAt <= c.ceiling)) {
    throw new TypeError('trust bounds must satisfy floor <= impostorAt < genuineAt <= ceiling');
  }
  if (!(c.initial >= c.floor && c.initial <= c.ceiling)) throw new TypeError('trust.initial must lie within [floor, ceiling]');
  if (!(c.genuineAt - c.maxStep > c.impostorAt)) {
    throw new TypeError(
      'trust.maxStep must be < genuineAt − impostorAt, so that one window can never turn genuine into impostor',
    );
  }
  return c;
}

export interface TrustBounds {
  /** Fewest consecutive windows that can take a stream from `genuine` to `impostor` (always ≥ 2). */
  windowsToFlipGenuine: number;
  /** Bad windows a stream at the ceiling absorbs and still reads `genuine`. */
  badWindowsAbsorbedAtCeiling: number;
  /** Windows until `impostor` from the ceiling when every window carries −maxStep (the fastest possible). */
  fastestDetection: number;
  /** Windows until `impostor` from the ceiling when each window's LLR is at most −delta. */
  detectionWithin(delta: number): number;
}

/**
 * The guarantees a config gives, whatever the model: these are what policy docs and tests quote.
 * `step` is the effective per-window bound: min(maxStep, the calibration's own clamp).
 */
export function trustBounds(config: TrustConfig, step = config.maxStep): TrustBounds {
  const fromCeiling = config.ceiling - config.impostorAt;
  return {
    windowsToFlipGenuine: Math.ceil((config.genuineAt - config.impostorAt) / step),
    badWindowsAbsorbedAtCeiling: Math.floor((config.ceiling - config.genuineAt) / step + 1e-12),
    fastestDetection: Math.ceil(fromCeiling / step),
    detectionWithin: (delta: number) => (delta > 0 ? Math.ceil(fromCeiling / Math.min(delta, step)) : Infinity),
  };
}

export interface TrustUpdate {
  llr: number;
  trust: number;
  decision: TrustDecision;
}

export class TrustAccumulator {
  readonly config: TrustConfig;
  private readonly calibration: Calibration;
  private value: number;
  private windows = 0;

  constructor(calibration: Calibration, config: Partial<TrustConfig> = {}) {
    this.config = resolveTrustConfig(config);
    this.calibration = calibration;
    this.value = this.config.initial;
  }

  get trust(): number {
    return this.value;
  }

  get count(): number {
    return this.windows;
  }

  get decision(): TrustDecision {
    return decide(this.value, this.config);
  }

  /** The effective per-window bound for this model: min(maxStep, calibration clamp). */
  get step(): number {
    return Math.min(this.config.maxStep, this.calibration.llr.clamp);
  }

  /** Adds one window's score (higher = owner) and returns the new state. */
  update(score: number): TrustUpdate {
    const step = this.step;
    let llr = windowLlr(this.calibration, score);
    if (Number.isNaN(llr)) llr = -step; // a window that cannot be scored counts as evidence against
    llr = Math.max(-step, Math.min(step, llr));
    const { floor, ceiling } = this.config;
    this.value = Math.max(floor, Math.min(ceiling, this.value + llr));
    this.windows++;
    return { llr, trust: this.value, decision: decide(this.value, this.config) };
  }

  /** Back to the initial state, e.g. after a successful step-up re-verification. */
  reset(trust = this.config.initial): void {
    this.value = Math.max(this.config.floor, Math.min(this.config.ceiling, trust));
    this.windows = 0;
  }
}

/** The decision a trust value reads under a config. */
export function decide(trust: number, c: TrustConfig): TrustDecision {
  return trust >= c.genuineAt ? 'genuine' : trust <= c.impostorAt ? 'impostor' : 'uncertain';
}
