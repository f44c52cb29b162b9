/**
 * Honest accuracy: subject-level cross-validation. The subjects are dealt into folds of people;
 * for each fold, every tuned choice (detector and its options) is picked by the development
 * protocol run on the OTHER folds' people only, and the figure is measured on the held-out
 * people: each held-out person enrols against a cohort of training people and is attacked by
 * the other held-out people, none of whom any choice or cohort ever saw.
 *
 *   npx tsx scripts/eval/cross-validate.ts [--data DIR] [--activity A[,B…]] [--folds 4] [--seed 1]
 *       [--detector name[,…]] [--select 10s] [--enrol 0.6 | rows] [--cohort-members 20]
 *       [--live-cohort N] [--background windowsPerMember] [--svg reports/biometrics-cv-det.svg] [--json file]
 *
 * --data takes a WISDM 2019 smartwatch directory (motion windows) or a Keystroke100 directory
 * (feature rows; --enrol is then a number of rows, default 5).
 *
 * Cold start: --live-cohort 0 enrols held-out people against nobody (a fresh deployment);
 * --background 40 adds a background population built, in each fold, from training people only
 * (those not in the live cohort) with the same builder as the shipped asset, merged by the
 * product's own withBackground(): a held-out person is never in any background.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DETECTOR_NAMES, type DetectorName } from '../../protocol/biometrics.ts';
import { detPoints, equalErrorPoint } from '../../src/biometrics/calibration.ts';
import { extractWindows } from '../../src/biometrics/features/extract-windows.ts';
import { rowFeatureSpec, sampleFeatureSpec, type FeatureSpec } from '../../src/biometrics/features/feature-spec.ts';
import { withBackground } from '../../src/biometrics/background/background-population.ts';
import { sampleSet, sliceRows, stackRows, type SampleSet } from '../../src/biometrics/samples.ts';
import { buildBackground } from './background-builder.ts';
import { DEFAULT_DETECTOR } from '../../src/biometrics/training.ts';
import { detSvg, type DetSeries } from './det-svg.ts';
import {
  concat,
  configLabel,
  halvesProtocol,
  horizonMetrics,
  horizonsFor,
  pct,
  scoreSubject,
  trustReplay,
  type EvalConfig,
  type HorizonRow,
  type SubjectData,
  type SubjectResult,
  type TrustSummary,
} from './eval-core.ts';
import { importKeystroke, isKeystrokeDir, keystrokeColumns } from './keystroke-importer.ts';
import { subjectFoldPlan, type SubjectFold } from './subject-folds.ts';
import { WISDM_ACTIVITIES, importWisdm } from './wisdm-importer.ts';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string', default: 'test/fixtures/wisdm-walking' },
    activity: { type: 'string' },
    folds: { type: 'string', default: '4' },
    seed: { type: 'string', default: '1' },
    detector: { type: 'string' },
    /** The horizon whose mean EER picks the configuration on the training folds. */
    select: { type: 'string' },
    enrol: { type: 'string' },
    'cohort-members': { type: 'string', default: '20' },
    /** Training people in the live cohort (fewer simulates a young deployment); default all, up to --cohort-members. */
    'live-cohort': { type: 'string' },
    /** Windows per background member (0 = no background): the other training people, built per fold. */
    background: { type: 'string', default: '0' },
    svg: { type: 'string', default: 'reports/biometrics-cv-det.svg' },
    json: { type: 'string' },
  },
});

/** The configurations tuned over: each detector at its defaults, plus regularisation strengths. */
function candidates(kind: FeatureSpec['kind'], only?: readonly DetectorName[]): EvalConfig[] {
  const all: EvalConfig[] = [
    { detector: 'scaled-manhattan' },
    { detector: 'scaled-manhattan', detectorOptions: { manhattanScalePrior: 5 } },
    { detector: 'scaled-manhattan', detectorOptions: { manhattanScalePrior: 20 } },
    { detector: 'scaled-manhattan', detectorOptions: { manhattanLogInputs: true } },
    { detector: 'scaled-manhattan', detectorOptions: { manhattanLogInputs: true, manhattanScalePrior: 5 } },
    { detector: 'scaled-manhattan', detectorOptions: { manhattanLogInputs: true, manhattanScalePrior: 20 } },
    { detector: 'outlier-count' },
    { detector: 'shrunk-mahalanobis' },
    { detector: 'logistic-cohort', detectorOptions: { logisticL2: 0.01 } },
    { detector: 'logistic-cohort', detectorOptions: { logisticL2: 0.1 } },
    { detector: 'logistic-cohort', detectorOptions: { logisticL2: 1 } },
    { detector: 'mlp-cohort' },
  ];
  // Few-shot feature rows: the product's 10-row minimum would leave nothing to test on.
  const training = kind === 'features' ? { minWindows: 4 } : undefined;
  return all.filter((c) => !only || only.includes(c.detector)).map((c) => ({ ...c, training }));
}

interface Dataset {
  label: string;
  spec: FeatureSpec;
  subjects: SubjectData[];
}

function split(samples: SampleSet, fraction: number): [SampleSet, SampleSet] {
  const cut = Math.floor(samples.length * fraction);
  const c = samples.channels.length;
  return [
    sampleSet(samples.rate, samples.channels, samples.data.subarray(0, cut * c)),
    sampleSet(samples.rate, samples.channels, samples.data.subarray(cut * c)),
  ];
}

async function loadDatasets(dir: string): Promise<Dataset[]> {
  if (await isKeystrokeDir(dir)) {
    const people = await importKeystroke(dir);
    const enrolRows = Number(args.enrol ?? 5);
    const d = (people[0] as (typeof people)[number]).rows.d;
    const spec = rowFeatureSpec({ columns: keystrokeColumns(d), modality: 'keystroke' });
    const subjects = people.map((p) => {
      if (!(Number.isInteger(enrolRows) && enrolRows >= 4 && enrolRows < p.rows.n))
        throw new Error(`--enrol must be a whole number of rows in 4…${p.rows.n - 1} for subject ${p.subject}`);
      return { subject: p.subject, enrol: sliceRows(p.rows, 0, enrolRows), test: sliceRows(p.rows, enrolRows, p.rows.n) };
    });
    return [{ label: `keystroke rows (${people.length} people, ${enrolRows} enrolment rows, ${d} features)`, spec, subjects }];
  }
  const fraction = Number(args.enrol ?? 0.6);
  if (!(fraction > 0.1 && fraction < 0.9)) throw new Error('--enrol must be a fraction between 0.1 and 0.9 for motion data');
  const recordings = await importWisdm(dir);
  const first = recordings[0] as (typeof recordings)[number];
  const spec = sampleFeatureSpec({ rate: first.samples.rate, channels: first.samples.channels, modality: 'motion' });
  const activities = args.activity ? args.activity.split(',') : [...new Set(recordings.map((r) => r.activity))].sort();
  return activities.map((activity) => {
    const subjects = recordings
      .filter((r) => r.activity === activity)
      .map((r) => {
        const [enrol, test] = split(r.samples, fraction);
        return { subject: r.subject, enrol: extractWindows(enrol, spec).features, test: extractWindows(test, spec).features };
      });
    if (subjects.length === 0) throw new Error(`no recordings of activity ${activity} in ${dir}`);
    return { label: `activity ${activity} (${WISDM_ACTIVITIES[activity] ?? activity})`, spec, subjects };
  });
}

interface FoldOutcome {
  chosen: EvalConfig;
  /** The training folds' figure of every candidate at the selection horizon. */
  inner: { label: string; eer: number }[];
  heldOut: SubjectResult[];
}

async function runFold(
  fold: SubjectFold<SubjectData>,
  spec: FeatureSpec,
  configs: EvalConfig[],
  selectHorizon: [string, number],
  cohort: { members: number; backgroundWindows: number },
): Promise<FoldOutcome> {
  const train = fold.tuning;
  const test = fold.heldOut;
  const inner: { label: string; eer: number }[] = [];
  let best: { config: EvalConfig; eer: number } | undefined;
  for (const config of configs) {
    const results = await halvesProtocol(config, train, spec);
    const { eer } = horizonMetrics(results, selectHorizon[0], selectHorizon[1]);
    inner.push({ label: configLabel(config), eer });
    if (!best || eer < best.eer) best = { config, eer };
  }
  const chosen = (best as { config: EvalConfig }).config;
  // Held-out people enrol against training people, as a deployment's accounts enrol against earlier ones.
  const live = fold.live.map((s) => s.enrol);
  const background =
    cohort.backgroundWindows > 0
      ? buildBackground(
          fold.background.map((s) => ({ subject: s.subject, windows: stackRows([s.enrol, s.test]) })),
          spec,
          cohort.backgroundWindows,
          'per-fold',
        )
      : undefined;
  const rows = withBackground(live, spec, background, cohort.members);
  const heldOut: SubjectResult[] = [];
  for (const target of test) {
    const impostors = test.filter((s) => s !== target).map((s) => s.test);
    heldOut.push(await scoreSubject(chosen, spec, target, rows, impostors));
  }
  return { chosen, inner, heldOut };
}

async function main(): Promise<void> {
  const started = performance.now();
  const dataDir = resolve(args.data);
  const k = Number(args.folds);
  const seed = Number(args.seed);
  const cohortMembers = Number(args['cohort-members']);
  if (!(Number.isInteger(cohortMembers) && cohortMembers >= 0)) throw new Error('--cohort-members must be a whole number');
  const live = Number(args['live-cohort'] ?? cohortMembers);
  if (!(Number.isInteger(live) && live >= 0)) throw new Error('--live-cohort must be a whole number');
  const backgroundWindows = Number(args.background);
  if (!(Number.isInteger(backgroundWindows) && backgroundWindows >= 0))
    throw new Error('--background must be a whole number of windows');
  const only = args.detector?.split(',') as DetectorName[] | undefined;
  for (const d of only ?? [])
    if (!DETECTOR_NAMES.includes(d)) throw new Error(`--detector ${d}: expected one of ${DETECTOR_NAMES.join(', ')}`);
  const datasets = await loadDatasets(dataDir);
  const spec = (datasets[0] as Dataset).spec;
  const horizons = horizonsFor(spec);
  const selectLabel = args.select ?? (spec.kind === 'features' ? '1 row' : '10 s');
  const selectHorizon = horizons.find(([label]) => label.replace(/ /g, '') === selectLabel.replace(/ /g, ''));
  if (!selectHorizon) throw new Error(`--select must be one of ${horizons.map(([l]) => l.replace(/ /g, '')).join(', ')}`);
  const configs = candidates(spec.kind, only);

  console.log(`Vigil biometric accuracy, subject-level cross-validation — ${dataDir}`);
  console.log(
    `${k} folds of people (seed ${seed}); candidates: ${configs.map(configLabel).join(', ')}; ` +
      `picked per fold by the training folds' mean ${selectHorizon[0]} EER (development protocol on training people only); ` +
      `held-out people enrol against ${Math.min(live, cohortMembers)} live training people` +
      (backgroundWindows > 0
        ? ` topped up to ${cohortMembers} with background training people (${backgroundWindows} windows each)`
        : '') +
      ` and are attacked by the other held-out people. ` +
      `Product default detector: ${DEFAULT_DETECTOR}.`,
  );

  const report: { dataset: string; rows: HorizonRow[]; trust: TrustSummary; chosen: string[]; inner: FoldOutcome['inner'][] }[] =
    [];
  const svgSeries: DetSeries[] = [];
  for (const { label, subjects } of datasets) {
    const folds = subjectFoldPlan(subjects, k, seed, { members: cohortMembers, live, background: backgroundWindows > 0 });
    console.log(
      `\n== ${label}: ${subjects.length} subjects, ~${subjects[0]?.enrol.n} enrolment / ~${subjects[0]?.test.n} test rows each ==`,
    );
    const outcomes: FoldOutcome[] = [];
    for (const [f, fold] of folds.entries()) {
      const outcome = await runFold(fold, spec, configs, selectHorizon, { members: cohortMembers, backgroundWindows });
      outcomes.push(outcome);
      const own = horizonMetrics(outcome.heldOut, selectHorizon[0], selectHorizon[1]);
      console.log(
        `fold ${f + 1}: ${fold.tuning.length} training / ${fold.heldOut.length} held-out people; training-fold ${selectHorizon[0]} EER ` +
          outcome.inner.map((c) => `${c.label} ${pct(c.eer).trim()}`).join(', ') +
          ` → ${configLabel(outcome.chosen)}; held-out ${pct(own.eer).trim()}`,
      );
    }
    const heldOut = outcomes.flatMap((o) => o.heldOut);
    const rows = horizons.map(([h, w]) => horizonMetrics(heldOut, h, w));
    console.log('horizon     windows  EER(mean) EER(pooled)  FAR@thr  FRR@thr   (held-out people, every fold)');
    for (const row of rows)
      console.log(
        `${row.horizon.padEnd(11)} ${String(row.windows).padStart(7)}  ${pct(row.eer)}   ${pct(row.pooledEer)}  ${pct(row.far)}  ${pct(row.frr)}`,
      );
    const trust = trustReplay(heldOut);
    if (spec.kind === 'samples')
      console.log(
        `trust: ${trust.streams} genuine→impostor streams, ${pct(trust.falseImpostorStreams).trim()} genuine parts ever 'impostor', ` +
          `impostor caught in ${pct(trust.detected).trim()} (median ${trust.medianDelay}, p95 ${trust.p95Delay} windows)`,
      );
    report.push({
      dataset: label,
      rows,
      trust,
      chosen: outcomes.map((o) => configLabel(o.chosen)),
      inner: outcomes.map((o) => o.inner),
    });
    const g = concat(heldOut.map((r) => r.genuine.map((s) => s - r.threshold)));
    const i = concat(heldOut.flatMap((r) => r.impostors.map((s) => s.map((v) => v - r.threshold))));
    svgSeries.push({ label, points: detPoints(g, i), eer: equalErrorPoint(g, i).eer });
  }

  const svgPath = resolve(args.svg);
  await mkdir(dirname(svgPath), { recursive: true });
  await writeFile(
    svgPath,
    detSvg(svgSeries, `DET, held-out people, 1 ${spec.kind === 'features' ? 'row' : 'window'} (per-subject thresholds)`),
  );
  console.log(`\nDET curves: ${svgPath}`);
  if (args.json) await writeFile(resolve(args.json), JSON.stringify({ folds: k, seed, report }, null, 2));
  console.log(`total ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
