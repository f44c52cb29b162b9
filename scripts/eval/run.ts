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
import { DETECTOR_NAMES, type DetectorName } from '../../protocol/biometrics.ts';
import { detPoints, equalErrorPoint } from '../../src/biometrics/calibration.ts';
import { extractWindows } from '../../src/biometrics/features/extract-windows.ts';
import { sampleFeatureSpec } from '../../src/biometrics/features/feature-spec.ts';
import { sampleSet, type SampleSet } from '../../src/biometrics/samples.ts';
import { resolveTrustConfig, trustBounds } from '../../src/biometrics/trust.ts';
import { detSvg, type DetSeries } from './det-svg.ts';
import {
  concat,
  halvesProtocol,
  horizonMetrics,
  horizonsFor,
  mean,
  pct,
  trustReplay,
  type Fusion,
  type HorizonRow,
  type SubjectData,
  type TrustSummary,
} from './eval-core.ts';
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

function split(samples: SampleSet, fraction: number): [SampleSet, SampleSet] {
  const cut = Math.floor(samples.length * fraction);
  const c = samples.channels.length;
  return [
    sampleSet(samples.rate, samples.channels, samples.data.subarray(0, cut * c)),
    sampleSet(samples.rate, samples.channels, samples.data.subarray(cut * c)),
  ];
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
  const horizons = horizonsFor(spec);

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
      const results = await halvesProtocol({ detector, detectorOptions: detectorOverrides }, subjects, spec);
      const trainMs = (performance.now() - t0) / results.length;
      const rows = horizons.map(([label, h]) => horizonMetrics(results, label, h, args.fusion as Fusion));
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
