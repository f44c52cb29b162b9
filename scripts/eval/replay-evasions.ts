/**
 * Which cheap edits of a stolen recording escape replay fingerprints while the owner's model still
 * accepts the windows: what a thief wants is windows that are not `replay` and still read genuine.
 *
 *   npx tsx scripts/eval/replay-evasions.ts [--data DIR] [--owners 8] [--cohort 8]
 *
 * Per owner: a model trained in-process (the default detector) on the first 60 % of their walk
 * against a cohort of other people's, the same 60 % fingerprinted as the gateway does at
 * enrolment; then each edit of that 60 % is streamed window by window exactly as the gateway's
 * trust does it (a replayed window floors trust, any other adds its clamped LLR). Columns: share of
 * windows read `replay`, share whose LLR favours the owner, and share of verdicts `genuine`.
 */
import { parseArgs } from 'node:util';
import { fingerprints } from '../../src/biometrics/assurance/replay-fingerprint.ts';
import { MATCH_SHARE, MIN_MOTION_QUANTA, repeatsKnown } from '../../src/biometrics/assurance/replay-index.ts';
import { windowLlr } from '../../src/biometrics/calibration.ts';
import { extractWindows } from '../../src/biometrics/features/extract-windows.ts';
import { sampleFeatureSpec } from '../../src/biometrics/features/feature-spec.ts';
import { scoreOnnx } from '../../src/biometrics/onnx/onnx-check.ts';
import { sampleSet, type SampleSet } from '../../src/biometrics/samples.ts';
import { trainModel } from '../../src/biometrics/training.ts';
import { decide, resolveTrustConfig } from '../../src/biometrics/trust.ts';
import { ConfigSchema } from '../../src/config/schema.ts';
import { importWisdm } from './wisdm-importer.ts';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string', default: new URL('../../../shared/data/wisdm-watch-dev', import.meta.url).pathname },
    owners: { type: 'string', default: '8' },
    cohort: { type: 'string', default: '8' },
  },
});

const C = 3;
const SPEC = sampleFeatureSpec({ rate: 20, channels: ['x', 'y', 'z'], modality: 'motion' });
const QUANTUM = ConfigSchema.properties.VIGIL_CV_REPLAY_QUANTUM.default as number;
const SHAPE = { quantum: QUANTUM, minMotion: QUANTUM * MIN_MOTION_QUANTA };
const TRUST = resolveTrustConfig();

let seed = 7;
const uniform = () => ((seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32) * 2 - 1;
const gaussian = () => Math.sqrt(-2 * Math.log((uniform() + 1) / 2 + 1e-12)) * Math.cos(Math.PI * (uniform() + 1));

const rows = (v: Float32Array) => v.length / C;
/** Linear interpolation of row position `t` (fractional). */
function at(v: Float32Array, t: number, c: number): number {
  const i = Math.min(rows(v) - 2, Math.max(0, Math.floor(t)));
  const f = t - i;
  return v[i * C + c]! * (1 - f) + v[(i + 1) * C + c]! * f;
}
/** Resampled so that it plays `factor` times as fast (linear interpolation). */
function stretch(v: Float32Array, factor: number, phase = 0): Float32Array {
  const n = Math.floor((rows(v) - 1 - phase) / factor);
  const out = new Float32Array(n * C);
  for (let r = 0; r < n; r++) for (let c = 0; c < C; c++) out[r * C + c] = at(v, phase + r * factor, c);
  return out;
}
function rotateZ(v: Float32Array, degrees: number): Float32Array {
  const a = (degrees * Math.PI) / 180;
  const [cos, sin] = [Math.cos(a), Math.sin(a)];
  const out = new Float32Array(v.length);
  for (let r = 0; r < rows(v); r++) {
    const [x, y, z] = [v[r * C]!, v[r * C + 1]!, v[r * C + 2]!];
    out.set([cos * x - sin * y, sin * x + cos * y, z], r * C);
  }
  return out;
}
/** Every `every`-th row dropped (or doubled). */
function everyNth(v: Float32Array, every: number, double: boolean): Float32Array {
  const out: number[] = [];
  for (let r = 0; r < rows(v); r++) {
    const row = Array.from(v.subarray(r * C, r * C + C));
    if (r % every === every - 1) {
      if (double) out.push(...row, ...row);
    } else out.push(...row);
  }
  return Float32Array.from(out);
}
function smooth(v: Float32Array): Float32Array {
  const out = new Float32Array(v.length);
  for (let r = 0; r < rows(v); r++)
    for (let c = 0; c < C; c++) out[r * C + c] = (at(v, r - 1, c) + v[r * C + c]! + at(v, r + 1, c)) / 3;
  return out;
}
/** Two parts of the recording mixed sample by sample (weights w and 1 − w). */
function mix(v: Float32Array, offsetRows: number, w: number): Float32Array {
  const n = rows(v) - offsetRows;
  const out = new Float32Array(n * C);
  for (let k = 0; k < n * C; k++) out[k] = w * v[k]! + (1 - w) * v[k + offsetRows * C]!;
  return out;
}

type Edit = (v: Float32Array) => Float32Array;
const EDITS: Record<string, Edit> = {
  verbatim: (v) => v,
  'noise ±0.15': (v) => v.map((x) => x + uniform() * 0.15),
  'noise ±0.2': (v) => v.map((x) => x + uniform() * 0.2),
  'noise σ 0.3': (v) => v.map((x) => x + gaussian() * 0.3),
  'noise σ 0.5': (v) => v.map((x) => x + gaussian() * 0.5),
  'half-sample delay': (v) => stretch(v, 1, 0.5),
  'speed ×1.01': (v) => stretch(v, 1.01),
  'speed ×1.02': (v) => stretch(v, 1.02),
  'speed ×1.05': (v) => stretch(v, 1.05),
  'speed ×0.95': (v) => stretch(v, 0.95),
  'drop 1 row in 10': (v) => everyNth(v, 10, false),
  'drop 1 row in 30': (v) => everyNth(v, 30, false),
  'double 1 row in 10': (v) => everyNth(v, 10, true),
  'rotate z 5°': (v) => rotateZ(v, 5),
  'rotate z 15°': (v) => rotateZ(v, 15),
  'rotate z 30°': (v) => rotateZ(v, 30),
  'scale ×1.05': (v) => v.map((x) => x * 1.05),
  'scale ×0.9': (v) => v.map((x) => x * 0.9),
  '3-tap smoothing': smooth,
  'mix 0.5/0.5 (+37 rows)': (v) => mix(v, 37, 0.5),
  'mix 0.7/0.3 (+37 rows)': (v) => mix(v, 37, 0.7),
};

const recordings = await importWisdm(args.data);
const walks = new Map(recordings.filter((r) => r.activity === 'A').map((r) => [r.subject, r.samples]));
const subjects = [...walks.keys()].sort();
const head = (s: SampleSet) => s.data.subarray(0, Math.floor(s.length * 0.6) * C);
const tail = (s: SampleSet) => s.data.subarray(Math.floor(s.length * 0.6) * C);
const asSet = (v: Float32Array) => sampleSet(20, ['x', 'y', 'z'], v);

interface Row {
  replay: number;
  ownerLlr: number;
  genuine: number;
}
const table = new Map<string, Row[]>();
const owners = subjects.slice(0, Number(args.owners));
for (const [k, owner] of owners.entries()) {
  const cohort = subjects.filter((s) => s !== owner).slice(k, k + Number(args.cohort));
  const enrolled = head(walks.get(owner)!);
  const model = await trainModel({
    featureRows: extractWindows(asSet(enrolled), SPEC).features,
    cohortRows: cohort.map((s) => extractWindows(asSet(head(walks.get(s)!)), SPEC).features),
    spec: SPEC,
  });
  const known = new Set(fingerprints(enrolled, rows(enrolled), C, SHAPE));
  const run = async (name: string, v: Float32Array) => {
    const { features, starts } = extractWindows(asSet(v), SPEC);
    const scores = await scoreOnnx(model.onnx, features);
    let trust = TRUST.initial;
    let replays = 0;
    let positive = 0;
    let genuine = 0;
    for (let w = 0; w < scores.length; w++) {
      const start = starts[w]!;
      const window = v.subarray(start * C, (start + SPEC.windowSamples) * C);
      const llr = windowLlr(model.calibration, scores[w]!);
      if (llr > 0) positive++;
      if (repeatsKnown(known, fingerprints(window, SPEC.windowSamples, C, SHAPE), MATCH_SHARE)) {
        replays++;
        trust = TRUST.floor;
        continue;
      }
      const step = Math.min(TRUST.maxStep, model.calibration.llr.clamp);
      trust = Math.max(TRUST.floor, Math.min(TRUST.ceiling, trust + Math.max(-step, Math.min(step, llr))));
      if (decide(trust, TRUST) === 'genuine') genuine++;
    }
    const n = scores.length || 1;
    (table.get(name) ?? table.set(name, []).get(name)!).push({
      replay: replays / n,
      ownerLlr: positive / n,
      genuine: genuine / n,
    });
  };
  for (const [name, edit] of Object.entries(EDITS)) await run(name, edit(enrolled));
  await run('(fresh: rest of own walk)', tail(walks.get(owner)!));
  await run('(impostor: next person’s fresh walk)', tail(walks.get(subjects[(subjects.indexOf(owner) + 1) % subjects.length]!)!));
  const other = tail(walks.get(subjects[(subjects.indexOf(owner) + 1) % subjects.length]!)!);
  for (const amplitude of [5, 10, 20])
    await run(
      `(impostor: uniform noise ±${amplitude})`,
      other.map(() => uniform() * amplitude),
    );
  await run(
    '(impostor: next person’s walk ×3)',
    other.map((x) => x * 3),
  );
  console.error(`owner ${owner} done`);
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
console.log(
  `\n${owners.length} owners, quantum ${QUANTUM}, match share ${MATCH_SHARE} (means over owners; min–max of genuine)\n`,
);
console.log(
  '| edit of the enrolled walk | read `replay` | LLR favours owner | verdict `genuine` (min–max) | owners with most verdicts `genuine` |',
);
console.log('|---|---:|---:|---:|---:|');
for (const [name, rs] of table) {
  const g = rs.map((r) => r.genuine);
  console.log(
    `| ${name} | ${pct(mean(rs.map((r) => r.replay)))} | ${pct(mean(rs.map((r) => r.ownerLlr)))} | ${pct(mean(g))} (${pct(Math.min(...g))}–${pct(Math.max(...g))}) | ${g.filter((x) => x > 0.5).length} of ${g.length} |`,
  );
}
