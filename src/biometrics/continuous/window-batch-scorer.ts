import type * as ort from 'onnxruntime-node';
import { onnxRuntime } from '../onnx/runtime.ts';
import { FeatureExtractor } from '../features/feature-extractor.ts';
import { gateScores } from '../novelty.ts';
import { noveltyForModel } from '../novelty-metadata.ts';
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
type FamilyPlan = { kind: 'family'; params: FamilyParams; checked: boolean };
type Plan = FamilyPlan | { kind: 'own' };
const OWN: Plan = { kind: 'own' };

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
    plan = params ? { kind: 'family', params, checked: false } : OWN;
    if (plans.size >= MAX_PLANS) plans.delete(plans.keys().next().value as string);
    plans.set(ref.key, plan);
  }
  return plan;
}

function familySession(family: FamilyName): Promise<ort.InferenceSession> {
  let session = familySessions.get(family);
  if (!session) {
    session = onnxRuntime().InferenceSession.create(familyGraph(family), SESSION_OPTIONS);
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

/** One family run of a batch (a family at one feature width): per-row inputs, reused across batches. */
class FamilyInputs {
  x = new Float32Array(0);
  mean = new Float32Array(0);
  scale = new Float32Array(0);
  bias = new Float32Array(0);
  /** Batch row of each family row. */
  rows = new Int32Array(0);
  n = 0;
  /** The models in this run: batch model index, first family row, plan as it was when added. */
  memberModel = new Int32Array(0);
  memberFirst = new Int32Array(0);
  readonly memberPlans: FamilyPlan[] = [];
  members = 0;

  constructor(
    readonly family: FamilyName,
    readonly d: number,
  ) {}

  /** Empties the run for a batch of up to `capacity` rows. */
  begin(capacity: number): void {
    const d = this.d;
    this.x = grow(this.x, capacity * d, (k) => new Float32Array(k));
    this.mean = grow(this.mean, capacity * d, (k) => new Float32Array(k));
    this.scale = grow(this.scale, capacity * d, (k) => new Float32Array(k));
    this.bias = grow(this.bias, capacity, (k) => new Float32Array(k));
    this.rows = grow(this.rows, capacity, (k) => new Int32Array(k));
    this.memberModel = grow(this.memberModel, capacity, (k) => new Int32Array(k));
    this.memberFirst = grow(this.memberFirst, capacity, (k) => new Int32Array(k));
    this.memberPlans.length = 0;
    this.n = 0;
    this.members = 0;
  }

  /** Model `model`'s rows follow (add), scored by its family parameters. */
  addModel(model: number, plan: FamilyPlan): void {
    this.memberModel[this.members] = model;
    this.memberFirst[this.members] = this.n;
    this.memberPlans[this.members++] = plan;
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

  /** Family rows of member k: [memberFirst[k], memberEnd(k)). */
  memberEnd(k: number): number {
    return k + 1 < this.members ? this.memberFirst[k + 1]! : this.n;
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
  const extractorOf = new Array<FeatureExtractor | undefined>(m);
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
    const at = offsets[i]!;
    if (task.rows === 'samples') extractor.extract(values, at / extractor.spec.channels.length, features, out);
    else features.set(values.subarray(at, at + d), out);
  }

  const runs: Array<Promise<void>> = [];
  const unscored = (j: number) => {
    for (let k = 0; k < groupRows[j]!; k++) scores[order[firstRow[j]! + k]!] = Number.NaN;
  };
  for (const f of familyInputs.values()) f.begin(n);
  for (let j = 0; j < m; j++) {
    const rows = groupRows[j]!;
    const d = dims[j]!;
    const ref = models[j]!;
    if (rows === 0) continue;
    if (!extractorOf[j]) {
      unscored(j); // its failure is reported above
      continue;
    }
    const start = groupStart[j]!;
    const input = features.subarray(start, start + rows * d);
    const first = firstRow[j]!;
    const plan = planFor(ref);
    if (plan.kind === 'family' && plan.params.d === d) {
      const key = `${plan.params.family}:${d}`;
      let inputs = familyInputs.get(key);
      if (!inputs) {
        familyInputs.set(key, (inputs = new FamilyInputs(plan.params.family, d)));
        inputs.begin(n);
      }
      inputs.addModel(j, plan);
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
          if (plan.kind === 'family') plans.set(ref.key, OWN); // not scored here until it loads
          unscored(j);
          failures.push({ model: j, error: (err as Error).message });
        },
      ),
    );
  }
  await Promise.all(runs);
  // Family runs last, so a model's first batch can be checked against its own graph's scores.
  const pending = [...familyInputs.values()].filter((inputs) => inputs.n > 0);
  for (const lost of await Promise.all(pending.map((inputs) => runFamily(inputs, task, models)))) failures.push(...lost);
  // The novelty gate, on the features just extracted; failed models' rows are not delivered.
  const failed = new Set(failures.map((f) => f.model));
  let novel = 0;
  for (let j = 0; j < m; j++) {
    const stats =
      groupRows[j]! > 0 && extractorOf[j] && !failed.has(j)
        ? noveltyForModel(models[j]!.key, models[j]!.bytes, dims[j]!)
        : undefined;
    if (!stats) continue;
    const first = firstRow[j]!;
    novel += gateScores(
      stats,
      features.subarray(groupStart[j], groupStart[j]! + groupRows[j]! * dims[j]!),
      groupRows[j]!,
      (k) => scores[order[first + k]!]!,
      (k, value) => (scores[order[first + k]!] = value),
    );
  }
  return { failures, novel };
}

/**
 * Runs one family's rows and writes the scores of its checked members. A member on its first
 * batch (its own graph scored it already) is checked if the family agrees on every row, and
 * keeps its own graph otherwise. Returns the members left without scores.
 */
async function runFamily(
  inputs: FamilyInputs,
  task: WindowBatchTask,
  models: readonly BatchModelRef[],
): Promise<WindowBatchResult['failures']> {
  const { family, d, n, rows } = inputs;
  const { scores } = task;
  let out: Float32Array;
  try {
    const session = await familySession(family);
    const { Tensor } = onnxRuntime();
    const shape = [n, d];
    const result = await session.run({
      [FAMILY_INPUTS.features]: new Tensor('float32', inputs.x.subarray(0, n * d), shape),
      [FAMILY_INPUTS.mean]: new Tensor('float32', inputs.mean.subarray(0, n * d), shape),
      [FAMILY_INPUTS.scale]: new Tensor('float32', inputs.scale.subarray(0, n * d), shape),
      [FAMILY_INPUTS.bias]: new Tensor('float32', inputs.bias.subarray(0, n), [n]),
    });
    const output = result[ONNX_OUTPUT];
    if (!output || output.type !== 'float32' || output.data.length !== n)
      throw new Error(`family ${family} did not produce ${n} scores`);
    out = output.data as Float32Array;
  } catch (err) {
    // The family graph failed: its members use their own graphs from the next batch on, and the
    // checked ones (not scored by their own graph this batch) have no score.
    const error = `family ${family} scoring failed: ${(err as Error).message}`;
    const lost: WindowBatchResult['failures'] = [];
    for (let k = 0; k < inputs.members; k++) {
      const model = inputs.memberModel[k]!;
      plans.set(models[model]!.key, OWN);
      if (!inputs.memberPlans[k]!.checked) continue;
      for (let r = inputs.memberFirst[k]!; r < inputs.memberEnd(k); r++) scores[rows[r]!] = Number.NaN;
      lost.push({ model, error });
    }
    return lost;
  }
  for (let k = 0; k < inputs.members; k++) {
    const plan = inputs.memberPlans[k]!;
    const key = models[inputs.memberModel[k]!]!.key;
    const first = inputs.memberFirst[k]!;
    const end = inputs.memberEnd(k);
    if (plan.checked) {
      for (let r = first; r < end; r++) scores[rows[r]!] = out[r]!;
      continue;
    }
    // Not the same plan any more: its own graph failed this batch (or the plan was evicted).
    let agrees = plans.get(key) === plan;
    for (let r = first; agrees && r < end; r++) agrees = scoresAgree(out[r]!, scores[rows[r]!]!);
    if (agrees) plan.checked = true;
    else plans.set(key, OWN);
  }
  return [];
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
    throw new Error(`model ${ref.key} does not load: ${(err as Error).message}`, { cause: err });
  }
  let output: ort.Tensor | undefined;
  try {
    const { Tensor } = onnxRuntime();
    output = (await session.run({ [ONNX_INPUT]: new Tensor('float32', input, [rows, d]) }))[ONNX_OUTPUT];
  } catch (err) {
    throw new Error(`model ${ref.key} failed on a ${rows}×${d} batch: ${(err as Error).message}`, { cause: err });
  }
  if (!output || output.type !== 'float32' || output.data.length !== rows) {
    throw new Error(`model ${ref.key} did not produce ${rows} float32 scores`);
  }
  return output.data as Float32Array;
}
