import { VigilError } from '../../../protocol/errors.ts';
import type { IngestLimits } from './ingest-options.ts';
import { CELL_PROBLEM_TEXT, parseCell } from './numeric-cell.ts';
import { ProblemList, invalid, tooMany } from './problems.ts';

/** A fully numeric CSV: named columns, float32 values row-major, and the optional time column. */
export interface CsvTable {
  columns: string[];
  data: Float32Array;
  rows: number;
  /** Values of the `t` column (ms) when one was requested and present. */
  time: Float64Array | undefined;
}

export interface CsvTableOptions {
  /** Split a column named `t` off as time instead of treating it as a value column. */
  timeColumn: boolean;
  /** Most value columns; `what` names them in errors ("channels" or "columns"). */
  maxColumns: number;
  what: 'channels' | 'columns';
  limits: IngestLimits;
}

const COLUMN_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function unquote(cell: string): string {
  const t = cell.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1).trim() : t;
}

function preview(cell: string): string {
  const t = cell.trim();
  return t.length > 24 ? `${t.slice(0, 24)}…` : t;
}

function decode(input: string | Uint8Array): string {
  if (typeof input === 'string') return input;
  try {
    return utf8.decode(input);
  } catch {
    throw invalid('body', 'the CSV is not valid UTF-8');
  }
}

/**
 * Parses a header-plus-numbers CSV. No quoting beyond optional "…" around a whole cell: every
 * cell must be a number, so commas never appear inside one.
 */
export function parseNumericCsv(input: string | Uint8Array, options: CsvTableOptions): CsvTable {
  const text = decode(input).replace(/^\uFEFF/, '');
  const lines = text.split('\n');
  let last = lines.length;
  while (last > 0 && (lines[last - 1] as string).trim() === '') last--;
  if (last === 0)
    throw new VigilError('SAMPLES_EMPTY', { what: 'header row' }, { details: [{ field: 'body', message: 'the CSV is empty' }] });

  const header = (lines[0] as string).replace(/\r$/, '').split(',').map(unquote);
  const headerProblems = new ProblemList();
  const seen = new Set<string>();
  header.forEach((name, i) => {
    const field = `/header/${i + 1}`;
    if (!COLUMN_NAME.test(name)) {
      headerProblems.add(
        field,
        `header column ${i + 1} "${preview(name)}" is not a valid name (letters, digits, _ . : -, at most 64)`,
      );
    } else if (seen.has(name)) {
      headerProblems.add(field, `header column ${i + 1} repeats the name "${name}"`);
    }
    seen.add(name);
  });
  headerProblems.throwIfAny();

  const timeIndex = options.timeColumn ? header.indexOf('t') : -1;
  const columns = header.filter((_, i) => i !== timeIndex);
  if (columns.length === 0) throw invalid('/header', 'the header names no value columns');
  if (columns.length > options.maxColumns) {
    throw tooMany(options.what, columns.length, options.maxColumns, '/header');
  }

  const rows = last - 1;
  if (rows === 0) {
    throw new VigilError(
      'SAMPLES_EMPTY',
      { what: 'data rows' },
      { details: [{ field: 'body', message: 'the CSV has a header but no data rows' }] },
    );
  }
  if (rows > options.limits.maxRows) throw tooMany('rows', rows, options.limits.maxRows, 'body');
  if (rows * columns.length > options.limits.maxCells) {
    throw tooMany('cells', rows * columns.length, options.limits.maxCells, 'body');
  }

  const width = header.length;
  const data = new Float32Array(rows * columns.length);
  const time = timeIndex >= 0 ? new Float64Array(rows) : undefined;
  const problems = new ProblemList();
  let out = 0;
  for (let r = 0; r < rows && !problems.full; r++) {
    const line = (lines[r + 1] as string).replace(/\r$/, '');
    const cells = line.split(',');
    const rowField = `/rows/${r + 1}`;
    if (cells.length !== width) {
      problems.add(rowField, `line ${r + 2} has ${line.trim() === '' ? 0 : cells.length} cells; the header has ${width}`);
      out += columns.length;
      continue;
    }
    for (let c = 0; c < width; c++) {
      const raw = cells[c] as string;
      const value = parseCell(unquote(raw));
      if (typeof value !== 'number') {
        problems.add(
          `${rowField}/${header[c]}`,
          `line ${r + 2}, column ${header[c]}: "${preview(raw)}" ${CELL_PROBLEM_TEXT[value]}`,
        );
        if (c !== timeIndex) out++;
        continue;
      }
      if (c === timeIndex) (time as Float64Array)[r] = value;
      else data[out++] = value;
    }
  }
  problems.throwIfAny();
  return { columns, data, rows, time };
}
