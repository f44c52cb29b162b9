import { sampleSet, featureRowSet, type FeatureRowSet, type SampleSet } from '../samples.ts';
import { parseNumericCsv } from './csv-table.ts';
import { resolveIngestOptions, type IngestOptions } from './ingest-options.ts';
import { resolveRate } from './sample-rate.ts';
import { checkMinRows } from './too-few.ts';

/**
 * CSV samples: a header naming the channels (e.g. `x,y,z`), one sample per line. An optional
 * `t` column (ms) must strictly increase; it checks the declared rate or supplies it.
 */
export function parseSampleCsv(input: string | Uint8Array, options: IngestOptions = {}): SampleSet {
  const { limits, minRows } = resolveIngestOptions(options);
  const table = parseNumericCsv(input, { timeColumn: true, maxColumns: limits.maxChannels, what: 'channels', limits });
  const rate = resolveRate(options.rate, table.time, limits);
  checkMinRows(table.rows, minRows, 'samples');
  return sampleSet(rate, table.columns, table.data);
}

/** CSV feature rows (`kind=features`): a header naming the columns, one observation per line. */
export function parseFeatureRowsCsv(input: string | Uint8Array, options: IngestOptions = {}): FeatureRowSet {
  const { limits, minRows } = resolveIngestOptions(options);
  const table = parseNumericCsv(input, { timeColumn: false, maxColumns: limits.maxFeatureColumns, what: 'columns', limits });
  checkMinRows(table.rows, minRows, 'rows');
  return featureRowSet(table.columns, table.data);
}
