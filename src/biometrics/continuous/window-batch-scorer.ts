import * as ort from 'onnxruntime-node';
import { FeatureExtractor } from '../features/feature-extractor.ts';
import { ONNX_INPUT, ONNX_OUTPUT } from '../onnx/graph-io.ts';
import { scoresAgree } from '../onnx/onnx-check.ts';
import { SESSION_OPTIONS } from '../onnx/session-options.ts';
import { FAMILY_INPUTS, familyGraph, familyOf, type FamilyName, type FamilyParams } from './model-families.ts';
import { readSpec, type BatchModelRef, type WindowBatchResult, type WindowBatchTask } from './window-batch.ts';

/*
 * The scoring worker's half of a micro-batch (workers/scoring-worker.ts dispatches here):
 * features for raw windows, rows grouped by model, then
 *  - rows of models in a family (logistic-cohort, scaled-manhattan; model-families.ts): one
 *    onnxruntime run of the family graph per family and feature width, with each row's
 *    parameters as inputs;
 *  - rows of any other model: one run of the model's own graph per model, all started together.
 * A model enters its family only after, on its first batch in this thread, the family scores
 * its rows exactly as its own graph does. Scratch buffers grow to the largest batch and stay.
 * One batch at a time per thread (Piscina runs one task per worker).
 */

export type SessionSource = (ref: BatchModelRef) => Promise<ort.InferenceSession>;

/** How a model is scored in this thread: its family (once checked) or its own session. */
type Plan = { kind: 'family'; params: FamilyParams; checked: boolean } | { kind: 'own' };

const plans = new Map<string, Plan>();
const MAX_PLANS = 65_536;
const extractors = new Map<string, FeatureExtractor>();
const MAX_EXTRACTORS = 64;
const familySessions = new Map<FamilyName, Promise<ort.InferenceSession>>();

/** Whether family graphs are used (tests and benchmarks compare both paths). */
let familiesEnabled = true;
export function useFamilies(enabled: boolean): void {
  familiesEnabled = enabled;
}

function extractorFor(ref: BatchModelRef): FeatureExtractor {
  let extractor = extractors.get(ref.specKey);
  if (!extractor) {
    extractor = new FeatureExtractor(readSpec(ref));
    if (extractors.size >= MAX_EXTRACTORS) extractors.delete(extractors.keys().next().value as string);
    extractors.set(ref.specKey, extractor);
  }
  return extractor;
}

function planFor(ref: BatchModelRef): Plan {
  let plan = plans.get(ref.key);
  if (!plan) {
    // Model keys name immutable bytes, so a plan never goes stale.
    const params = familiesEnabled ? familyOf(new Uint8Array(ref.bytes).slice()) : undefined;
    plan = params ? { kind: 'family', params, checked: false } : { kind: 'own' };
    if (plans.size >= MAX_PLANS) plans.delete(plans.keys().next().value as string);
    plans.set(ref.key, plan);
  }
  return plan;
}

function familySession(family: FamilyName): Promise<ort.InferenceSession> {
  let session = familySessions.get(family);
  if (!session) {
    session = ort.InferenceSession.create(familyGraph(family), SESSION_OPTIONS);
    session.catch(() => familySessions.delete(family));
    familySessions.set(family, session);
  }
  return session;
}

let features = new Float32Array(64 * 128);
let order = new Int32Array(64);
let groupStart = new Int32Array(16);
let groupFill = new Int32Array(16);
let groupRows = new Int32Array(16);
let dims = new Int32Array(16);
let firstRow = new Int32Array(16);

function grow<T extends Float32Array | Int32Array>(array: T, length: number, make: (n: number) => T): T {
  return array.length >= length ? array : make(Math.max(length, array.length * 2));
}

/** Per-row inputs of one family run, reused across batches. */
class FamilyInputs {
  x = new Float32Array(0);
  mean = new Float32Array(0);
  scale = new Float32Array(0);
  bias = new Float32Array(0);
  /** Global row index of each family row. */
  rows = new Int32Array(0);
  n = 0;

  reset(capacity: number, d: number): void {
    this.x = grow(this.x, capacity * d, (k) => new Float32Array(k));
    this.mean = grow(this.mean, capacity * d, (k) => new Float32Array(k));
    this.scale = grow(this.scale, capacity * d, (k) => new Float32Array(k));
    this.bias = grow(this.bias, capacity, (k) => new Float32Array(k));
    this.rows = grow(this.rows, capacity, (k) => new Int32Array(k));
    this.n = 0;
  }

  /** Row `row` of the batch, whose features are src[from … from + d). */
  add(row: number, src: Float32Array, from: number, params: FamilyParams): void {
    const { d, mean, scale } = params;
    const at = this.n * d;
    const { x, mean: m, scale: s } = this;
    for (let j = 0; j < d; j++) {
      x[at + j] = src[from + j]!;
      m[at + j] = mean[j]!;
      s[at + j] = scale[j]!;
    }
    this.bias[this.n] = params.bias;
    this.rows[this.n++] = row;
  }
}
const familyInputs = new Map<string, FamilyInputs>();

export async function scoreWindowBatch(task: WindowBatchTask, sessions: SessionSource): Promise<WindowBatchResult> {
  const { n, models, rowModel, values, offsets, scores } = task;
  const m = models.length;
  const failures: WindowBatchResult['failures'] = [];
  groupRows = grow(groupRows, m, (k) => new Int32Array(k));
  groupStart = grow(groupStart, m + 1, (k) => new Int32Array(k));
  groupFill = grow(groupFill, m, (k) => new Int32Array(k));
  dims = grow(dims, m, (k) => new Int32Array(k));
  firstRow = grow(firstRow, m, (k) => new Int32Array(k));
  order = grow(order, n, (k) => new Int32Array(k));

  // Extractors (and so D) per model; a spec that does not parse fails only its model's rows.
  const extractorOf: Array<FeatureExtractor | undefined> = new Array(m);
  for (let j = 0; j < m; j++) {
    groupRows[j] = 0;
    const ref = models[j]!;
    try {
      const extractor = extractorFor(ref);
      extractorOf[j] = extractor;
      dims[j] = extractor.dimension;
    } catch (err) {
      dims[j] = 0;
      failures.push({ model: j, error: `feature spec of ${ref.key} is unusable: ${(err as Error).message}` });
    }
  }
  for (let i = 0; i < n; i++) groupRows[rowModel[i]!]!++;
  // Groups laid out one after another in the feature scratch: [model 0 rows][model 1 rows]…
  let floats = 0;
  let cursor = 0;
  for (let j = 0; j < m; j++) {
    groupStart[j] = floats;
    groupFill[j] = 0;
    firstRow[j] = cursor;
    floats += groupRows[j]! * dims[j]!;
    cursor += groupRows[j]!;
  }
  features = grow(features, floats, (k) => new Float32Array(k));
  for (let i = 0; i < n; i++) {
    const j = rowModel[i]!;
    const slot = groupFill[j]!++;
    order[firstRow[j]! + slot] = i;
    const extractor = extractorOf[j];
    if (!extractor) continue;
    const d = dims[j]!;
    const out = groupStart[j]! + slot * d;
    if (task.rows === 'samples') extractor.extract(values, offsets[i]! / extractor.spec.channels.length, features, out);
    else features.set(values.subarray(offsets[i]!, offsets[i]! + d), out);
  }

  const runs: Array<Promise<void>> = [];
  const failModel = (j: number, error: string) => {
    for (let k = 0; k < groupRows[j]!; k++) scores[order[firstRow[j]! + k]!] = Number.NaN;
    failures.push({ model: j, error });
  };
  for (const f of familyInputs.values()) f.n = 0;
  for (let j = 0; j < m; j++) {
    const rows = groupRows[j]!;
    const d = dims[j]!;
    const ref = models[j]!;
    if (rows === 0 || !extractorOf[j]) continue;
    const input = features.subarray(groupStart[j]!, groupStart[j]! + rows * d);
    const first = firstRow[j]!;
    const plan = planFor(ref);
    if (plan.kind === 'family' && plan.params.d === d) {
      const key = `${plan.params.family}:${d}`;
      let inputs = familyInputs.get(key);
      if (!inputs) familyInputs.set(key, (inputs = new FamilyInputs()));
      if (inputs.n === 0) inputs.reset(n, d);
      for (let k = 0; k < rows; k++) inputs.add(order[first + k]!, features, groupStart[j]! + k * d, plan.params);
      if (plan.checked) continue;
    }
    // Own graph: models outside a family, and family models on their first batch (the check).
    runs.push(
      runModel(sessions, ref, input, rows, d).then(
        (out) => {
          for (let k = 0; k < rows; k++) scores[order[first + k]!] = out[k]!;
        },
        (err: unknown) => {
          if (plan.kind === 'family') plans.set(ref.key, { kind: 'own' }); // not scored here until it loads
          failModel(j, (err as Error).message);
        },
      ),
    );
  }
  await Promise.all(runs);
  // Family runs last, so the first batch of a model can be checked against its own scores.
  const families = [...familyInputs.entries()].filter(([, inputs]) => inputs.n > 0);
  const failed = await Promise.all(families.map(([key, inputs]) => runFamily(key, inputs, task, models)));
  failed.forEach((error, f) => {
    if (!error) return;
    // Rows that relied on the family have no score: report their models.
    const inputs = families[f]![1];
    const reported = new Set<number>();
    for (let r = 0; r < inputs.n; r++) {
      const row = inputs.rows[r]!;
      if (!Number.isNaN(scores[row]!) && plans.get(models[rowModel[row]!]!.key)?.kind !== 'family') continue;
      scores[row] = Number.NaN;
      if (!reported.has(rowModel[row]!)) failures.push({ model: rowModel[row]!, error });
      reported.add(rowModel[row]!);
    }
  });
  return { failures };
}

/** Runs one family's rows; returns an error message when the family graph itself failed. */
async function runFamily(
  key: string,
  inputs: FamilyInputs,
  task: WindowBatchTask,
  models: readonly BatchModelRef[],
): Promise<string | undefined> {
  const [family, width] = key.split(':') as [FamilyName, string];
  const d = Number(width);
  const n = inputs.n;
  const shape = [n, d];
  let out: Float32Array;
  try {
    const session = await familySession(family);
    const result = await session.run({
      [FAMILY_INPUTS.features]: new ort.Tensor('float32', inputs.x.subarray(0, n * d), shape),
      [FAMILY_INPUTS.mean]: new ort.Tensor('float32', inputs.mean.subarray(0, n * d), shape),
      [FAMILY_INPUTS.scale]: new ort.Tensor('float32', inputs.scale.subarray(0, n * d), shape),
      [FAMILY_INPUTS.bias]: new ort.Tensor('float32', inputs.bias.subarray(0, n), [n]),
    });
    const output = result[ONNX_OUTPUT];
    if (!output || output.type !== 'float32' || output.data.length !== n)
      throw new Error(`family ${family} did not produce ${n} scores`);
    out = output.data as Float32Array;
  } catch (err) {
    // The family graph itself failed. Its checked rows have no score; every model of the batch
    // falls back to its own graph from the next batch on.
    const checked = new Set<number>();
    for (let r = 0; r < n; r++) {
      const row = inputs.rows[r]!;
      const plan = plans.get(models[task.rowModel[row]!]!.key);
      if (plan?.kind === 'family' && plan.checked) checked.add(row);
    }
    for (const ref of models) if (plans.get(ref.key)?.kind === 'family') plans.set(ref.key, { kind: 'own' });
    for (const row of checked) task.scores[row] = Number.NaN;
    return checked.size > 0 ? `family ${family} scoring failed: ${(err as Error).message}` : undefined;
  }
  const { scores, rowModel } = task;
  for (let r = 0; r < n; r++) {
    const row = inputs.rows[r]!;
    const ref = models[rowModel[row]!]!;
    const plan = plans.get(ref.key);
    if (plan?.kind !== 'family') continue;
    if (plan.checked) {
      scores[row] = out[r]!;
    } else if (!scoresAgree(out[r]!, scores[row]!)) {
      // The family does not reproduce this model's own graph: it keeps its own session.
      plans.set(ref.key, { kind: 'own' });
    }
  }
  // Models whose every row agreed are checked now (their own scores stand for this batch).
  for (let r = 0; r < n; r++) {
    const ref = models[rowModel[inputs.rows[r]!]!]!;
    const plan = plans.get(ref.key);
    if (plan?.kind === 'family' && !plan.checked) plan.checked = true;
  }
}

async function runModel(
  sessions: SessionSource,
  ref: BatchModelRef,
  input: Float32Array,
  rows: number,
  d: number,
): Promise<Float32Array> {
  let session: ort.InferenceSession;
  try {
    session = await sessions(ref);
  } catch (err) {
    throw new Error(`model ${ref.key} does not load: ${(err as Error).message}`);
  }
  let output: ort.Tensor | undefined;
  try {
    output = (await session.run({ [ONNX_INPUT]: new ort.Tensor('float32', input, [rows, d]) }))[ONNX_OUTPUT];
  } catch (err) {
    throw new Error(`model ${ref.key} failed on a ${rows}×${d} batch: ${(err as Error).message}`);
  }
  if (!output || output.type !== 'float32' || output.data.length !== rows) {
    throw new Error(`model ${ref.key} did not produce ${rows} float32 scores`);
  }
  return output.data as Float32Array;
}
