/**
 * Accuracy harness: enrol each subject on the first part of a recording, verify on the
 * disjoint rest (genuine) and on other subjects' rest (impostors). Impostors used for testing
 * are never in the cohort the model was trained against.
 *
 *   npx tsx scripts/eval/run.ts [--data DIR (default test/fixtures/wisdm-walking)] [--activity A[,B…]]
 *       [--detector name[,name…]] [--enrol 0.6] [--svg reports/biometrics-det.svg] [--json file]
 *       [--fusion llr|score] [--set detectorOption=value …]
 *
 * Scores come from onnxruntime running each model's exported graph, as in production.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { DETECTOR_NAMES, type DetectorName } from '../../protocol/biometrics.ts';
import { detPoints, equalErrorPoint, errorRates, windowLlr } from '../../src/biometrics/calibration.ts';
import { extractWindows } from '../../src/biometrics/features/extract-windows.ts';
import { sampleFeatureSpec, type FeatureSpec } from '../../src/biometrics/features/feature-spec.ts';
import { SESSION_OPTIONS, scoreOnnx } from '../../src/biometrics/onnx/onnx-check.ts';
import { sampleSet, type FeatureMatrix, type SampleSet } from '../../src/biometrics/samples.ts';
import { trainModel, type ModelArtifact } from '../../src/biometrics/training.ts';
import { TrustAccumulator, resolveTrustConfig, trustBounds } from '../../src/biometrics/trust.ts';
import { detSvg, type DetSeries } from './det-svg.ts';
import { WISDM_ACTIVITIES, importWisdm } from './wisdm-importer.ts';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string', default: 'test/fixtures/wisdm-walking' },
    activity: { type: 'string' },
    detector: { type: 'string' },
    enrol: { type: 'string', default: '0.6' },
    svg: { type: 'string', default: 'reports/biometrics-det.svg' },
    json: { type: 'string' },
    quiet: { type: 'boolean', default: false },
    /** How windows are fused over a horizon: mean calibrated LLR (as the trust score does) or mean raw score. */
    fusion: { type: 'string', default: 'score' },
    /** Detector option overrides for experiments, e.g. --set logisticL2=0.1 (see DetectorOptions). */
    set: { type: 'string', multiple: true, default: [] },
  },
});

const detectorOverrides: Record<string, number> = Object.fromEntries(
  (args.set ?? []).map((kv) => {
    const [key, value] = kv.split('=');
    if (!key || value === undefined || !Number.isFinite(Number(value))) throw new Error(`--set ${kv}: expected name=number`);
    return [key, Number(value)];
  }),
);

interface SubjectData {
  subject: string;
  enrol: FeatureMatrix;
  test: FeatureMatrix;
}

interface SubjectResult {
  subject: string;
  threshold: number;
  genuine: Float32Array;
  /** Test-window scores of each impostor (subjects outside this model's cohort). */
  impostors: Float32Array[];
  model: ModelArtifact;
}

function split(samples: SampleSet, fraction: number): [SampleSet, SampleSet] {
  const cut = Math.floor(samples.length * fraction);
  const c = samples.channels.length;
  return [
    sampleSet(samples.rate, samples.channels, samples.data.subarray(0, cut * c)),
    sampleSet(samples.rate, samples.channels, samples.data.subarray(cut * c)),
  ];
}

/** Sliding means of `h` consecutive window scores: the fused score after h windows. */
function fuse(scores: Float32Array, h: number): Float32Array {
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

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const pct = (v: number) => `${(v * 100).toFixed(2)}%`.padStart(7);
const quantileOf = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
};

async function evaluateDetector(detector: DetectorName, subjects: SubjectData[], spec: FeatureSpec): Promise<SubjectResult[]> {
  const results: SubjectResult[] = [];
  for (const [k, target] of subjects.entries()) {
    const others = subjects.filter((_, j) => j !== k);
    // Alternate the others between cohort and test impostors, rotating with the target.
    const cohort = others.filter((_, j) => (j + k) % 2 === 0);
    const impostors = others.filter((_, j) => (j + k) % 2 === 1);
    const model = await trainModel({
      featureRows: target.enrol,
      cohortRows: cohort.map((s) => s.enrol),
      spec,
      detector,
      options: { detector: detectorOverrides },
    });
    const session = await ort.InferenceSession.create(model.onnx, SESSION_OPTIONS);
    const genuine = Float32Array.from(await scoreOnnx(session, target.test));
    const impostorScores: Float32Array[] = [];
    for (const other of impostors) impostorScores.push(Float32Array.from(await scoreOnnx(session, other.test)));
    await session.release();
    results.push({ subject: target.subject, threshold: model.threshold, genuine, impostors: impostorScores, model });
  }
  return results;
}

interface HorizonRow {
  horizon: string;
  windows: number;
  eer: number;
  pooledEer: number;
  far: number;
  frr: number;
}

/** Per-window values to fuse, and the threshold on their mean that matches the model's threshold. */
function fusionInputs(r: SubjectResult, h: number): { genuine: Float32Array; impostors: Float32Array[]; threshold: number } {
  if (h === 1 || args.fusion === 'score') return { genuine: r.genuine, impostors: r.impostors, threshold: r.threshold };
  const cal = r.model.calibration;
  const llr = (scores: Float32Array) => scores.map((s) => windowLlr(cal, s));
  return { genuine: llr(r.genuine), impostors: r.impostors.map(llr), threshold: windowLlr(cal, r.threshold) };
}

function horizonMetrics(results: SubjectResult[], label: string, h: number): HorizonRow {
  const eers: number[] = [];
  const fars: number[] = [];
  const frrs: number[] = [];
  const pooledGenuine: Float32Array[] = [];
  const pooledImpostor: Float32Array[] = [];
  for (const r of results) {
    const inputs = fusionInputs(r, h);
    const g = fuse(inputs.genuine, h);
    const i = concat(inputs.impostors.map((s) => fuse(s, h)));
    eers.push(equalErrorPoint(g, i).eer);
    const at = errorRates(g, i, inputs.threshold);
    fars.push(at.far);
    frrs.push(at.frr);
    // Pooled over subjects after subtracting each model's own threshold.
    pooledGenuine.push(g.map((s) => s - inputs.threshold));
    pooledImpostor.push(i.map((s) => s - inputs.threshold));
  }
  const pooled = equalErrorPoint(concat(pooledGenuine), concat(pooledImpostor));
  return { horizon: label, windows: h, eer: mean(eers), pooledEer: pooled.eer, far: mean(fars), frr: mean(frrs) };
}

interface TrustSummary {
  streams: number;
  falseImpostorStreams: number;
  genuineShareGenuine: number;
  detected: number;
  medianDelay: number;
  p95Delay: number;
  maxDelay: number;
}

/** Replays genuine test windows then an impostor's, through the trust accumulator. */
function trustReplay(results: SubjectResult[]): TrustSummary {
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
    maxDelay: Math.max(...delays),
  };
}

async function main(): Promise<void> {
  const started = performance.now();
  const dataDir = resolve(args.data);
  const recordings = await importWisdm(dataDir);
  const activities = args.activity ? args.activity.split(',') : [...new Set(recordings.map((r) => r.activity))].sort();
  const detectors = (args.detector ? args.detector.split(',') : [...DETECTOR_NAMES]) as DetectorName[];
  for (const d of detectors)
    if (!DETECTOR_NAMES.includes(d)) throw new Error(`--detector ${d}: expected one of ${DETECTOR_NAMES.join(', ')}`);
  if (args.fusion !== 'llr' && args.fusion !== 'score') throw new Error('--fusion must be llr or score');
  const enrolFraction = Number(args.enrol);
  if (!(enrolFraction > 0.1 && enrolFraction < 0.9)) throw new Error('--enrol must be a fraction between 0.1 and 0.9');

  const first = recordings[0] as (typeof recordings)[number];
  const spec = sampleFeatureSpec({ rate: first.samples.rate, channels: first.samples.channels, modality: 'motion' });
  const windowsFor = (seconds: number) => 1 + Math.round((seconds - spec.window) / spec.hop);
  const horizons: [string, number][] = [
    ['1 window', 1],
    ['5 windows', 5],
    ['10 s', windowsFor(10)],
    ['30 s', windowsFor(30)],
  ];

  console.log(`Vigil biometric accuracy — ${dataDir}`);
  console.log(
    `windows ${spec.window} s / hop ${spec.hop} s at ${spec.rate} Hz (${spec.names.length} features); ` +
      `enrol on the first ${enrolFraction * 100}% of each recording, test on the rest; ` +
      `cohort and test impostors are disjoint halves of the other subjects`,
  );

  const table: {
    activity: string;
    detector: DetectorName;
    rows: HorizonRow[];
    trust: TrustSummary;
    enrolEer: number;
    trainMs: number;
    fallback: number;
  }[] = [];
  const svgSeries: DetSeries[] = [];
  for (const activity of activities) {
    const subjects: SubjectData[] = recordings
      .filter((r) => r.activity === activity)
      .map((r) => {
        const [enrol, test] = split(r.samples, enrolFraction);
        return { subject: r.subject, enrol: extractWindows(enrol, spec).features, test: extractWindows(test, spec).features };
      });
    if (subjects.length < 4) throw new Error(`activity ${activity}: only ${subjects.length} subjects`);
    const name = WISDM_ACTIVITIES[activity] ?? activity;
    console.log(
      `\n== activity ${activity} (${name}): ${subjects.length} subjects, ~${subjects[0]?.enrol.n} enrolment / ~${subjects[0]?.test.n} test windows each ==`,
    );
    console.log('detector            horizon     windows  EER(mean) EER(pooled)  FAR@thr  FRR@thr');
    for (const detector of detectors) {
      const t0 = performance.now();
      const results = await evaluateDetector(detector, subjects, spec);
      const trainMs = (performance.now() - t0) / results.length;
      const rows = horizons.map(([label, h]) => horizonMetrics(results, label, h));
      for (const row of rows) {
        console.log(
          `${detector.padEnd(19)} ${row.horizon.padEnd(11)} ${String(row.windows).padStart(7)}  ${pct(row.eer)}   ${pct(row.pooledEer)}  ${pct(row.far)}  ${pct(row.frr)}`,
        );
      }
      const trust = trustReplay(results);
      const enrolEer = mean(results.map((r) => r.model.metrics.eer ?? Number.NaN));
      const fallback = results.filter((r) => r.model.oneClassFallback).length;
      if (!args.quiet) {
        console.log(
          `${''.padEnd(19)} enrolment-CV EER ${pct(enrolEer)}; trust: ${trust.streams} genuine→impostor streams, ` +
            `${pct(trust.falseImpostorStreams)} genuine parts ever 'impostor', ${pct(trust.genuineShareGenuine)} of genuine windows 'genuine', ` +
            `impostor caught in ${pct(trust.detected)} (median ${trust.medianDelay}, p95 ${trust.p95Delay}, max ${trust.maxDelay} windows); ` +
            `${trainMs.toFixed(0)} ms/subject`,
        );
      }
      table.push({ activity, detector, rows, trust, enrolEer, trainMs, fallback });
      if (activity === activities[0]) {
        const g = concat(results.map((r) => r.genuine.map((s) => s - r.threshold)));
        const i = concat(results.flatMap((r) => r.impostors.map((s) => s.map((v) => v - r.threshold))));
        svgSeries.push({ label: detector, points: detPoints(g, i), eer: equalErrorPoint(g, i).eer });
      }
    }
  }

  if (activities.length > 1) {
    console.log('\n== mean over activities ==');
    console.log('detector            horizon     EER(mean) EER(pooled)  FAR@thr  FRR@thr');
    for (const detector of detectors) {
      const mine = table.filter((t) => t.detector === detector);
      horizons.forEach(([label], hi) => {
        const rows = mine.map((t) => t.rows[hi] as HorizonRow);
        console.log(
          `${detector.padEnd(19)} ${label.padEnd(11)} ${pct(mean(rows.map((r) => r.eer)))}   ${pct(mean(rows.map((r) => r.pooledEer)))}  ${pct(mean(rows.map((r) => r.far)))}  ${pct(mean(rows.map((r) => r.frr)))}`,
        );
      });
    }
  }

  const bounds = trustBounds(resolveTrustConfig());
  console.log(
    `\ntrust bounds (defaults): one window never flips genuine→impostor (≥ ${bounds.windowsToFlipGenuine} windows needed); ` +
      `fastest detection from the ceiling ${bounds.fastestDetection} windows; with every impostor window LLR ≤ −1: within ${bounds.detectionWithin(1)} windows`,
  );

  const svgPath = resolve(args.svg);
  await mkdir(dirname(svgPath), { recursive: true });
  await writeFile(svgPath, detSvg(svgSeries, `DET, activity ${activities[0]}, 1 window (per-subject thresholds)`));
  console.log(`DET curve: ${svgPath}`);
  if (args.json) {
    await writeFile(resolve(args.json), JSON.stringify({ spec, enrolFraction, table }, null, 2));
  }
  console.log(`total ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
