/**
 * In-memory biometric data, the one shape every ingest path (CSV, JSON, binary frames, socket
 * stream) produces and every consumer (windowing, training, scoring) reads.
 *
 * Both kinds store float32 values row-major: for samples a row is one instant across all
 * channels (interleaved, sample-major: x0 y0 z0 x1 y1 z1 …); for feature rows a row is one
 * observation vector. This is exactly the layout a decoded sample frame carries, so a frame
 * becomes a SampleSet without a copy.
 */

export interface SampleSet {
  readonly kind: 'samples';
  /** Samples per second per channel. */
  readonly rate: number;
  readonly channels: readonly string[];
  /** length × channels.length values, sample-major. */
  readonly data: Float32Array;
  /** Number of samples (rows). */
  readonly length: number;
}

export interface FeatureRowSet {
  readonly kind: 'features';
  readonly channels: readonly string[];
  /** length × channels.length values, one observation per row. */
  readonly data: Float32Array;
  readonly length: number;
}

export type BiometricData = SampleSet | FeatureRowSet;

/** Row-major float32 matrix; the currency between feature extraction, detectors and ONNX. */
export interface FeatureMatrix {
  readonly data: Float32Array;
  /** Rows (windows or observations). */
  readonly n: number;
  /** Columns (features). */
  readonly d: number;
}

function checkShape(data: Float32Array, channels: readonly string[]): number {
  if (channels.length === 0) throw new RangeError('channels must not be empty');
  if (data.length % channels.length !== 0) {
    throw new RangeError(`data length ${data.length} is not a multiple of ${channels.length} channels`);
  }
  return data.length / channels.length;
}

/** Wraps interleaved float32 samples (e.g. a decoded frame payload) without copying. */
export function sampleSet(rate: number, channels: readonly string[], data: Float32Array): SampleSet {
  if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError(`rate must be a positive number, got ${rate}`);
  return { kind: 'samples', rate, channels: [...channels], data, length: checkShape(data, channels) };
}

export function featureRowSet(columns: readonly string[], data: Float32Array): FeatureRowSet {
  return { kind: 'features', channels: [...columns], data, length: checkShape(data, columns) };
}

/** Joins consecutive chunks of one stream (e.g. several decoded frames) into one sample set. */
export function concatSamples(rate: number, channels: readonly string[], chunks: readonly Float32Array[]): SampleSet {
  let total = 0;
  for (const chunk of chunks) total += chunk.length;
  const data = new Float32Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    data.set(chunk, offset);
    offset += chunk.length;
  }
  return sampleSet(rate, channels, data);
}

export function matrix(data: Float32Array, n: number, d: number): FeatureMatrix {
  if (!Number.isInteger(n) || !Number.isInteger(d) || n < 0 || d < 1 || data.length < n * d) {
    throw new RangeError(`matrix ${n}×${d} does not fit ${data.length} values`);
  }
  return { data, n, d };
}

/** Rows [from, to) as a view (no copy). */
export function sliceRows(m: FeatureMatrix, from: number, to: number): FeatureMatrix {
  return { data: m.data.subarray(from * m.d, to * m.d), n: to - from, d: m.d };
}

/** Copies the listed rows into a new matrix. */
export function pickRows(m: FeatureMatrix, rows: ArrayLike<number>): FeatureMatrix {
  const out = new Float32Array(rows.length * m.d);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i] as number;
    out.set(m.data.subarray(r * m.d, (r + 1) * m.d), i * m.d);
  }
  return { data: out, n: rows.length, d: m.d };
}

export function stackRows(parts: readonly FeatureMatrix[]): FeatureMatrix {
  const first = parts[0];
  if (!first) throw new RangeError('stackRows needs at least one matrix');
  let n = 0;
  for (const p of parts) {
    if (p.d !== first.d) throw new RangeError(`cannot stack ${p.d}-column rows onto ${first.d}-column rows`);
    n += p.n;
  }
  const out = new Float32Array(n * first.d);
  let offset = 0;
  for (const p of parts) {
    out.set(p.data.subarray(0, p.n * p.d), offset);
    offset += p.n * p.d;
  }
  return { data: out, n, d: first.d };
}
