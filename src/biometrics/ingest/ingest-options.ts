import { SAMPLE_LIMITS } from '../../../protocol/biometrics.ts';

/** Bounds on one upload. Defaults are the protocol's published SAMPLE_LIMITS. */
export interface IngestLimits {
  /** Most channels in a sample set. Default SAMPLE_LIMITS.maxChannels (64). */
  maxChannels: number;
  /** Most columns in a feature-row set. Default SAMPLE_LIMITS.maxFeatureColumns (512). */
  maxFeatureColumns: number;
  /** Most rows (samples or observations). Default SAMPLE_LIMITS.maxRows (1,000,000). */
  maxRows: number;
  /** Most rows × columns. Default SAMPLE_LIMITS.maxCells (4,000,000). */
  maxCells: number;
  /** Highest sample rate, Hz. Default SAMPLE_LIMITS.maxRate (10,000). */
  maxRate: number;
}

export interface IngestOptions {
  /**
   * Declared sample rate in Hz (query/form field `rate`). Required for CSV samples unless the
   * file has a `t` column (ms) to infer it from; JSON sample sets carry their own rate.
   */
  rate?: number | undefined;
  /**
   * Fewest rows accepted: the window length in samples for `kind=samples` (so at least one
   * window can be cut), or the fewest observations for `kind=features`. Default 1.
   */
  minRows?: number | undefined;
  limits?: Partial<IngestLimits> | undefined;
}

export const DEFAULT_INGEST_LIMITS: Readonly<IngestLimits> = Object.freeze({ ...SAMPLE_LIMITS });

/** Most per-cell problems reported in one error; parsing stops once this many are found. */
export const MAX_REPORTED_PROBLEMS = 20;

function positiveInteger(name: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new TypeError(`options.${name} must be a positive integer, got ${String(value)}`);
  }
}

/** Validates caller options (a programming error, so TypeError, not a VigilError). */
export function resolveIngestOptions(options: IngestOptions = {}): { limits: IngestLimits; minRows: number } {
  const limits: IngestLimits = { ...DEFAULT_INGEST_LIMITS, ...options.limits };
  for (const key of ['maxChannels', 'maxFeatureColumns', 'maxRows', 'maxCells'] as const) {
    positiveInteger(`limits.${key}`, limits[key]);
  }
  if (!(typeof limits.maxRate === 'number' && limits.maxRate > 0 && Number.isFinite(limits.maxRate))) {
    throw new TypeError(`options.limits.maxRate must be a positive finite number, got ${String(limits.maxRate)}`);
  }
  const minRows = options.minRows ?? 1;
  positiveInteger('minRows', minRows);
  return { limits, minRows };
}
