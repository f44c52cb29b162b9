import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { FeatureRowsJsonSchema, SampleSetJsonSchema } from '../../../protocol/biometrics.ts';
import { featureRowSet, sampleSet, type BiometricData, type FeatureRowSet, type SampleSet } from '../samples.ts';
import { resolveIngestOptions, type IngestLimits, type IngestOptions } from './ingest-options.ts';
import { CELL_PROBLEM_TEXT, checkValue } from './numeric-cell.ts';
import { ProblemList, invalid, tooMany } from './problems.ts';
import { checkRate } from './sample-rate.ts';
import { checkMinRows } from './too-few.ts';

// The envelopes are checked by schema; rows are walked by hand so that a bad cell is named
// precisely (and a million-row array is not validated twice).
const SampleEnvelope = TypeCompiler.Compile(
  Type.Object(
    { ...Type.Omit(SampleSetJsonSchema, ['samples']).properties, samples: Type.Array(Type.Unknown()) },
    { additionalProperties: false },
  ),
);
const FeatureEnvelope = TypeCompiler.Compile(
  Type.Object(
    { ...Type.Omit(FeatureRowsJsonSchema, ['rows']).properties, rows: Type.Array(Type.Unknown()) },
    { additionalProperties: false },
  ),
);

type Envelope = typeof SampleEnvelope | typeof FeatureEnvelope;

function checkEnvelope(checker: Envelope, body: unknown): void {
  if (checker.Check(body)) return;
  const problems = new ProblemList();
  for (const error of checker.Errors(body)) {
    if (problems.full) break;
    problems.add(error.path || '/', `${error.path || 'body'}: ${error.message}`);
  }
  problems.throwIfAny();
}

function preCheckSizes(
  body: unknown,
  namesKey: string,
  rowsKey: string,
  maxNames: number,
  what: string,
  limits: IngestLimits,
): void {
  if (typeof body !== 'object' || body === null) return;
  const record = body as Record<string, unknown>;
  const names = record[namesKey];
  const rows = record[rowsKey];
  if (Array.isArray(names) && names.length > maxNames) throw tooMany(what, names.length, maxNames, `/${namesKey}`);
  if (Array.isArray(rows) && rows.length > limits.maxRows) throw tooMany('rows', rows.length, limits.maxRows, `/${rowsKey}`);
  if (Array.isArray(names) && Array.isArray(rows) && names.length * rows.length > limits.maxCells) {
    throw tooMany('cells', names.length * rows.length, limits.maxCells, `/${rowsKey}`);
  }
}

function checkUnique(names: readonly string[], key: string): void {
  const seen = new Set<string>();
  names.forEach((name, i) => {
    if (seen.has(name)) throw invalid(`/${key}/${i}`, `${key} repeats the name "${name}"`);
    seen.add(name);
  });
}

/** Copies number[][] into float32, naming every ragged row and bad value (JSON pointers). */
function readRows(rows: readonly unknown[], names: readonly string[], key: string): Float32Array {
  const width = names.length;
  const data = new Float32Array(rows.length * width);
  const problems = new ProblemList();
  for (let r = 0; r < rows.length && !problems.full; r++) {
    const row = rows[r];
    if (!Array.isArray(row) || row.length !== width) {
      const got = Array.isArray(row) ? `${row.length} values` : `a ${row === null ? 'null' : typeof row}`;
      problems.add(`/${key}/${r}`, `${key}[${r}] has ${got}; expected an array of ${width} (${names.join(', ')})`);
      continue;
    }
    for (let c = 0; c < width; c++) {
      const value: unknown = row[c];
      const field = `/${key}/${r}/${c}`;
      if (typeof value !== 'number') {
        problems.add(field, `${key}[${r}][${c}] (${names[c]}) is ${value === null ? 'null' : typeof value}, not a number`);
        continue;
      }
      const problem = checkValue(value);
      if (problem) problems.add(field, `${key}[${r}][${c}] (${names[c]}) ${CELL_PROBLEM_TEXT[problem]}`);
      else data[r * width + c] = value;
    }
  }
  problems.throwIfAny();
  return data;
}

/** JSON sample set `{ rate, channels, samples: number[][] }` (already JSON-parsed). */
export function parseSampleJson(body: unknown, options: IngestOptions = {}): SampleSet {
  const { limits, minRows } = resolveIngestOptions(options);
  preCheckSizes(body, 'channels', 'samples', limits.maxChannels, 'channels', limits);
  checkEnvelope(SampleEnvelope, body);
  const { rate, channels, samples } = body as { rate: number; channels: string[]; samples: unknown[] };
  checkRate(rate, limits, '/rate');
  if (options.rate !== undefined && options.rate !== rate) {
    throw invalid('query.rate', `query rate ${options.rate} Hz contradicts the body's rate ${rate} Hz`);
  }
  checkUnique(channels, 'channels');
  checkMinRows(samples.length, minRows, 'samples');
  return sampleSet(rate, channels, readRows(samples, channels, 'samples'));
}

/** JSON feature rows `{ kind: "features", columns, rows: number[][] }`. */
export function parseFeatureRowsJson(body: unknown, options: IngestOptions = {}): FeatureRowSet {
  const { limits, minRows } = resolveIngestOptions(options);
  preCheckSizes(body, 'columns', 'rows', limits.maxFeatureColumns, 'columns', limits);
  checkEnvelope(FeatureEnvelope, body);
  const { columns, rows } = body as { columns: string[]; rows: unknown[] };
  checkUnique(columns, 'columns');
  checkMinRows(rows.length, minRows, 'rows');
  return featureRowSet(columns, readRows(rows, columns, 'rows'));
}

/** Either JSON form, told apart by `kind` (absent means samples). */
export function parseJsonUpload(body: unknown, options: IngestOptions & { kind?: 'samples' | 'features' } = {}): BiometricData {
  const declared = typeof body === 'object' && body !== null ? (body as { kind?: unknown }).kind : undefined;
  const kind = declared ?? options.kind ?? 'samples';
  if (options.kind !== undefined && declared !== undefined && declared !== options.kind) {
    throw invalid('/kind', `body kind ${JSON.stringify(declared)} contradicts kind=${options.kind}`);
  }
  if (kind === 'features') {
    return parseFeatureRowsJson(
      declared === undefined && typeof body === 'object' && body !== null ? { ...body, kind } : body,
      options,
    );
  }
  if (kind !== 'samples') throw invalid('/kind', `kind must be "samples" or "features", got ${JSON.stringify(kind)}`);
  return parseSampleJson(body, options);
}
