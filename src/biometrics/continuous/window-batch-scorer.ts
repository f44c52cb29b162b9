import * as ort from 'onnxruntime-node';
import { FeatureExtractor } from '../features/feature-extractor.ts';
import { ONNX_INPUT, ONNX_OUTPUT } from '../onnx/graph-io.ts';
import { readSpec, type BatchModelRef, type WindowBatchResult, type WindowBatchTask } from './window-batch.ts';

/*
 * The scoring worker's half of a micro-batch (workers/scoring-worker.ts dispatches here):
 * features for raw windows, then one onnxruntime run per distinct model in the batch, rows of
 * a model gathered contiguously. Everything is reused across batches: scratch grows to the
 * largest batch seen and stays.
 */

export type SessionSource = (ref: BatchModelRef) => Promise<ort.InferenceSession>;

/** Feature extractors by spec key: a handful of specs serve every user of a modality. */
const extractors = new Map<string, FeatureExtractor>();
const MAX_EXTRACTORS = 64;

function extractorFor(ref: BatchModelRef): FeatureExtractor {
  let extractor = extractors.get(ref.specKey);
  if (!extractor) {
    extractor = new FeatureExtractor(readSpec(ref));
    if (extractors.size >= MAX_EXTRACTORS) extractors.delete(extractors.keys().next().value as string);
    extractors.set(ref.specKey, extractor);
  }
  return extractor;
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

export async function scoreWindowBatch(task: WindowBatchTask, sessions: SessionSource): Promise<WindowBatchResult> {
  const { n, models, rowModel, values, offsets, scores } = task;
  const m = models.length;
  const failures: WindowBatchResult['failures'] = [];
  groupRows = grow(groupRows, m, (k) => new Int32Array(k));
  groupStart = grow(groupStart, m + 1, (k) => new Int32Array(k));
  groupFill = grow(groupFill, m, (k) => new Int32Array(k));
  dims = grow(dims, m, (k) => new Int32Array(k));
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
  for (let j = 0; j < m; j++) {
    groupStart[j] = floats;
    groupFill[j] = 0;
    floats += groupRows[j]! * dims[j]!;
  }
  features = grow(features, floats, (k) => new Float32Array(k));
  // order[] lists the rows grouped by model; a group's rows start at firstRow[j].
  firstRow = grow(firstRow, m, (k) => new Int32Array(k));
  let cursor = 0;
  for (let j = 0; j < m; j++) {
    firstRow[j] = cursor;
    cursor += groupRows[j]!;
  }
  for (let i = 0; i < n; i++) {
    const j = rowModel[i]!;
    const slot = groupFill[j]!++;
    order[firstRow[j]! + slot] = i;
    const extractor = extractorOf[j];
    if (!extractor) continue;
    const d = dims[j]!;
    const out = groupStart[j]! + slot * d;
    if (task.rows === 'samples') {
      const c = extractor.spec.channels.length;
      extractor.extract(values, offsets[i]! / c, features, out);
    } else {
      features.set(values.subarray(offsets[i]!, offsets[i]! + d), out);
    }
  }

  // One run per model, all started together: onnxruntime-node completes runs on the event loop,
  // so concurrent runs share its turns instead of paying one each.
  const runs: Array<Promise<void>> = [];
  for (let j = 0; j < m; j++) {
    const rows = groupRows[j]!;
    const d = dims[j]!;
    if (rows === 0 || !extractorOf[j]) continue;
    const first = firstRow[j]!;
    const input = features.subarray(groupStart[j]!, groupStart[j]! + rows * d);
    const ref = models[j]!;
    runs.push(
      runModel(sessions, ref, input, rows, d).then(
        (out) => {
          for (let k = 0; k < rows; k++) scores[order[first + k]!] = out[k]!;
        },
        (err: unknown) => {
          for (let k = 0; k < rows; k++) scores[order[first + k]!] = Number.NaN;
          failures.push({ model: j, error: (err as Error).message });
        },
      ),
    );
  }
  // Rows of models whose spec failed get NaN too.
  for (const f of failures) {
    const first = firstRow[f.model]!;
    for (let k = 0; k < groupRows[f.model]!; k++) scores[order[first + k]!] = Number.NaN;
  }
  await Promise.all(runs);
  return { failures };
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
