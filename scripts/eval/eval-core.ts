/**
 * What every evaluation protocol shares: training one model through the product's trainModel
 * and scoring held-out rows with onnxruntime running its exported graph, fusing window scores
 * over a horizon, error rates per subject, and replaying streams through the trust accumulator.
 */
import * as ort from 'onnxruntime-node';
import type { DetectorName, ModelSummary } from '../../protocol/biometrics.ts';
import { equalErrorPoint, errorRates, windowLlr } from '../../src/biometrics/calibration.ts';
import { DEFAULT_DETECTOR_OPTIONS, type DetectorOptions } from '../../src/biometrics/detectors/index.ts';
import type { FeatureSpec } from '../../src/biometrics/features/feature-spec.ts';
import { SESSION_OPTIONS, scoreOnnx } from '../../src/biometrics/onnx/onnx-check.ts';
import type { FeatureMatrix } from '../../src/biometrics/samples.ts';
import { trainModel, type TrainingOptions } from '../../src/biometrics/training.ts';
import { TrustAccumulator } from '../../src/biometrics/trust.ts';

/** One person's rows: enrolment (earlier) and test (later, disjoint in time). */
export interface SubjectData {
  subject: string;
  enrol: FeatureMatrix;
  test: FeatureMatrix;
}

/** Everything a model is built with that an evaluation may tune. */
export interface EvalConfig {
  detector: DetectorName;
  detectorOptions?: Partial<DetectorOptions>;
  training?: Partial<TrainingOptions>;
}

export function configLabel(c: EvalConfig): string {
  const opts = Object.entries(c.detectorOptions ?? {}).map(([k, v]) => `${k}=${v}`);
  return opts.length > 0 ? `${c.detector}(${opts.join(',')})` : c.detector;
}

export interface SubjectResult {
  subject: string;
  threshold: number;
  genuine: Float32Array;
  /** Test-row scores of each impostor (people outside this model's cohort). */
  impostors: Float32Array[];
  /** What the protocol needs of the model: calibration (LLR fusion, trust), metrics, fallback. */
  model: ModelSummary;
}

/** Trains `target`'s model against `cohort` and scores its own test rows and each impostor's. */
export async function scoreSubject(
  config: EvalConfig,
  spec: FeatureSpec,
  target: SubjectData,
  cohort: readonly FeatureMatrix[],
  impostors: readonly FeatureMatrix[],
): Promise<SubjectResult> {
  const model = await trainModel({
    featureRows: target.enrol,
    cohortRows: cohort,
    spec,
    detector: config.detector,
    // Spelled out in full so the product's per-kind defaults never slip into a candidate unnamed.
    options: { ...config.training, detector: { ...DEFAULT_DETECTOR_OPTIONS, ...config.detectorOptions } },
  });
  const session = await ort.InferenceSession.create(model.onnx, SESSION_OPTIONS);
  try {
    const genuine = Float32Array.from(await scoreOnnx(session, target.test));
    const impostorScores: Float32Array[] = [];
    for (const other of impostors) impostorScores.push(Float32Array.from(await scoreOnnx(session, other)));
    return { subject: target.subject, threshold: model.threshold, genuine, impostors: impostorScores, model };
  } finally {
    await session.release();
  }
}

/**
 * The development-set protocol: every subject enrols; the others are split in two halves,
 * rotating with the target: one half is the cohort (enrolment rows), the other supplies test
 * impostors (test rows). Test impostors are never in the cohort, but every subject is used
 * both for choosing the configuration and for the figure.
 */
export async function halvesProtocol(
  config: EvalConfig,
  subjects: readonly SubjectData[],
  spec: FeatureSpec,
): Promise<SubjectResult[]> {
  const results: SubjectResult[] = [];
  for (const [k, target] of subjects.entries()) {
    const others = subjects.filter((_, j) => j !== k);
    const cohort = others.filter((_, j) => (j + k) % 2 === 0);
    const impostors = others.filter((_, j) => (j + k) % 2 === 1);
    results.push(
      await scoreSubject(
        config,
        spec,
        target,
        cohort.map((s) => s.enrol),
        impostors.map((s) => s.test),
      ),
    );
  }
  return results;
}

/** Sliding means of `h` consecutive window scores: the fused score after h windows. */
export function fuse(scores: Float32Array, h: number): Float32Array {
  if (h <= 1) return scores;
  const out = new Float32Array(Math.max(0, scores.length - h + 1));
  let sum = 0;
  for (let i = 0; i < scores.length; i++) {
    sum += scores[i] as number;
    if (i >= h) sum -= scores[i - h] as number;
    if (i >= h - 1) out[i - h + 1] = sum / h;
  }
  return out;
}

export function concat(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
export const pct = (v: number) => `${(v * 100).toFixed(2)}%`.padStart(7);
export const quantileOf = (xs: readonly number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
};

export type Fusion = 'score' | 'llr';

export interface HorizonRow {
  horizon: string;
  windows: number;
  /** Mean over subjects of each subject's EER (Killourhy & Maxion style). */
  eer: number;
  /** EER of all subjects' scores pooled after subtracting each model's own threshold. */
  pooledEer: number;
  far: number;
  frr: number;
}

/** Per-window values to fuse, and the threshold on their mean that matches the model's threshold. */
function fusionInputs(
  r: SubjectResult,
  h: number,
  fusion: Fusion,
): { genuine: Float32Array; impostors: Float32Array[]; threshold: number } {
  if (h === 1 || fusion === 'score') return { genuine: r.genuine, impostors: r.impostors, threshold: r.threshold };
  const cal = r.model.calibration;
  const llr = (scores: Float32Array) => scores.map((s) => windowLlr(cal, s));
  return { genuine: llr(r.genuine), impostors: r.impostors.map(llr), threshold: windowLlr(cal, r.threshold) };
}

export function horizonMetrics(
  results: readonly SubjectResult[],
  label: string,
  h: number,
  fusion: Fusion = 'score',
): HorizonRow {
  const eers: number[] = [];
  const fars: number[] = [];
  const frrs: number[] = [];
  const pooledGenuine: Float32Array[] = [];
  const pooledImpostor: Float32Array[] = [];
  for (const r of results) {
    const inputs = fusionInputs(r, h, fusion);
    const g = fuse(inputs.genuine, h);
    const i = concat(inputs.impostors.map((s) => fuse(s, h)));
    if (g.length === 0 || i.length === 0) continue;
    eers.push(equalErrorPoint(g, i).eer);
    const at = errorRates(g, i, inputs.threshold);
    fars.push(at.far);
    frrs.push(at.frr);
    pooledGenuine.push(g.map((s) => s - inputs.threshold));
    pooledImpostor.push(i.map((s) => s - inputs.threshold));
  }
  const pooled = equalErrorPoint(concat(pooledGenuine), concat(pooledImpostor));
  return { horizon: label, windows: h, eer: mean(eers), pooledEer: pooled.eer, far: mean(fars), frr: mean(frrs) };
}

export interface TrustSummary {
  streams: number;
  falseImpostorStreams: number;
  genuineShareGenuine: number;
  detected: number;
  medianDelay: number;
  p95Delay: number;
  maxDelay: number;
}

/** Replays genuine test windows then an impostor's, through the trust accumulator. */
export function trustReplay(results: readonly SubjectResult[]): TrustSummary {
  let streams = 0;
  let falseImpostor = 0;
  let detected = 0;
  const genuineShares: number[] = [];
  const delays: number[] = [];
  for (const r of results) {
    for (const impostor of r.impostors) {
      streams++;
      const trust = new TrustAccumulator(r.model.calibration);
      let sawImpostor = false;
      let genuineWindows = 0;
      for (const s of r.genuine) {
        const u = trust.update(s);
        if (u.decision === 'impostor') sawImpostor = true;
        if (u.decision === 'genuine') genuineWindows++;
      }
      genuineShares.push(genuineWindows / r.genuine.length);
      if (sawImpostor) falseImpostor++;
      for (let w = 0; w < impostor.length; w++) {
        if (trust.update(impostor[w] as number).decision === 'impostor') {
          detected++;
          delays.push(w + 1);
          break;
        }
      }
    }
  }
  return {
    streams,
    falseImpostorStreams: falseImpostor / streams,
    genuineShareGenuine: mean(genuineShares),
    detected: detected / streams,
    medianDelay: quantileOf(delays, 0.5),
    p95Delay: quantileOf(delays, 0.95),
    maxDelay: delays.length > 0 ? Math.max(...delays) : Number.NaN,
  };
}

/** Horizons in windows for a windowed spec: 1 window, 5 windows, 10 s and 30 s. Feature rows: 1 row. */
export function horizonsFor(spec: FeatureSpec): [string, number][] {
  if (spec.kind === 'features') return [['1 row', 1]];
  const windowsFor = (seconds: number) => 1 + Math.round((seconds - spec.window) / spec.hop);
  return [
    ['1 window', 1],
    ['5 windows', 5],
    ['10 s', windowsFor(10)],
    ['30 s', windowsFor(30)],
  ];
}
