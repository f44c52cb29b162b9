import { createHash } from 'node:crypto';
import type { FeatureSpec } from '../../../protocol/biometrics.ts';
import type { ScoringModel } from '../scoring-pool.ts';
import type { ScoringFault } from '../scoring-tasks.ts';

/*
 * The contract of one micro-batch between the socket path (main thread) and a scoring worker.
 * A batch holds windows of many streams, hence of many models: each row names its model.
 * Every array lives in shared memory (a slab the main thread reuses), so posting a batch copies
 * no sample and a worker that dies mid-task leaves the batch intact for the retry.
 */

/** Rows are raw windows (the worker extracts features) or feature vectors (extracted on the main thread). */
export type BatchRows = 'samples' | 'features';

/** One model as a batch ships it: ONNX bytes and feature spec in shared memory, read by a worker once. */
export interface BatchModelRef {
  /** Immutable model version (`${userId}:${version}`); names the worker's session. */
  key: string;
  bytes: SharedArrayBuffer;
  /** Identifies the spec; workers keep one FeatureExtractor per spec key. */
  specKey: string;
  /** The FeatureSpec as UTF-8 JSON, parsed by a worker only when it has no extractor for specKey. */
  spec: SharedArrayBuffer;
}

export interface WindowBatchTask {
  kind: 'window-batch';
  rows: BatchRows;
  n: number;
  /** Row i is values[offsets[i] … offsets[i] + its width); a raw row starts at a multiple of its channel count. */
  values: Float32Array;
  offsets: Int32Array;
  /** Index into `models` per row. */
  rowModel: Int32Array;
  /** Written by the worker: one score per row, NaN where the row's model failed. */
  scores: Float32Array;
  models: BatchModelRef[];
  /** Fault injection, honoured only by a pool given planted faults (tests; see scoring-faults.ts). */
  fault?: ScoringFault | undefined;
}

/** Models that could not score their rows (does not load, rejects the batch); other rows are scored. */
export interface WindowBatchResult {
  failures: Array<{ model: number; error: string }>;
  /** Rows the novelty gate lowered (src/biometrics/novelty.ts); scored all the same. */
  novel?: number | undefined;
}

/** A model version as the micro-batcher uses it: the pool's model plus what windowing needs. */
export interface BatchModel {
  readonly scoring: ScoringModel;
  readonly spec: FeatureSpec;
  readonly ref: BatchModelRef;
  /** Feature vector length D. */
  readonly dimension: number;
}

const specBytesByKey = new Map<string, SharedArrayBuffer>();

/** Wraps a model for batching; models with equal specs share one spec buffer. */
export function batchModel(scoring: ScoringModel, spec: FeatureSpec): BatchModel {
  const json = JSON.stringify(spec);
  const specKey = createHash('sha1').update(json).digest('base64url');
  let bytes = specBytesByKey.get(specKey);
  if (!bytes) {
    const encoded = new TextEncoder().encode(json);
    bytes = new SharedArrayBuffer(encoded.byteLength);
    new Uint8Array(bytes).set(encoded);
    // Specs are few (one per modality/rate/channels/window choice); keep a bounded set.
    if (specBytesByKey.size >= 1024) specBytesByKey.clear();
    specBytesByKey.set(specKey, bytes);
  }
  return {
    scoring,
    spec,
    ref: { key: scoring.key, bytes: scoring.bytes, specKey, spec: bytes },
    dimension: spec.names.length,
  };
}

/** The spec a BatchModelRef carries (worker side). */
export function readSpec(ref: BatchModelRef): FeatureSpec {
  // TextDecoder refuses views on shared memory: copy the few hundred bytes out first.
  return JSON.parse(new TextDecoder().decode(new Uint8Array(ref.spec).slice())) as FeatureSpec;
}

/** Floats one row of `model` takes in a batch of this kind. */
export function rowWidth(model: BatchModel, rows: BatchRows): number {
  return rows === 'features' ? model.dimension : model.spec.windowSamples * model.spec.channels.length;
}
