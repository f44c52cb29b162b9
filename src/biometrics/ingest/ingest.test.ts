import { describe, expect, it } from 'vitest';
import { VigilError, type ErrorCode } from '../../../protocol/errors.ts';
import { parseFeatureRowsCsv, parseFeatureRowsJson, parseJsonUpload, parseSampleCsv, parseSampleJson } from './index.ts';
import { resolveIngestOptions } from './ingest-options.ts';

function rejection(fn: () => unknown): VigilError {
  try {
    fn();
  } catch (err) {
    if (err instanceof VigilError) return err;
    throw err;
  }
  throw new Error('expected a VigilError, nothing was thrown');
}

function expectRejected(fn: () => unknown, code: ErrorCode, field?: string, text?: RegExp): VigilError {
  const err = rejection(fn);
  expect(err.code).toBe(code);
  expect(err.status).toBe(422);
  if (field !== undefined) expect(err.details?.map((d) => d.field)).toContain(field);
  if (text) expect(err.details?.map((d) => d.message).join('\n')).toMatch(text);
  return err;
}

describe('CSV samples', () => {
  it('reads channels, rate and interleaved float32 values', () => {
    const set = parseSampleCsv('x,y,z\n1,2,3\n4.5,-5e-1,6\n', { rate: 20 });
    expect(set.kind).toBe('samples');
    expect(set.channels).toEqual(['x', 'y', 'z']);
    expect(set.rate).toBe(20);
    expect(set.length).toBe(2);
    expect(Array.from(set.data)).toEqual([1, 2, 3, 4.5, -0.5, 6]);
  });

  it('accepts CRLF, a BOM, quoted header names, bytes and trailing blank lines', () => {
    const bytes = new TextEncoder().encode('\uFEFF"a","b"\r\n1,2\r\n3,4\r\n\r\n');
    const set = parseSampleCsv(bytes, { rate: 50 });
    expect(set.channels).toEqual(['a', 'b']);
    expect(Array.from(set.data)).toEqual([1, 2, 3, 4]);
  });

  it('splits off the t column and infers the rate from its median interval', () => {
    // 0, 50, 100, 160 (jitter), 200 ms: median gap 50 ms → 20 Hz
    const set = parseSampleCsv('t,x\n0,1\n50,2\n100,3\n160,4\n200,5\n');
    expect(set.channels).toEqual(['x']);
    expect(set.rate).toBe(20);
    expect(Array.from(set.data)).toEqual([1, 2, 3, 4, 5]);
  });

  it('rejects a non-numeric cell naming its line and column', () => {
    const err = expectRejected(() => parseSampleCsv('x,y\n1,2\n3,abc\n', { rate: 20 }), 'SAMPLES_INVALID', '/rows/2/y');
    expect(err.message).toContain('line 3, column y');
  });

  it('reports several bad cells in one rejection', () => {
    const err = expectRejected(() => parseSampleCsv('x,y\n1,q\nw,2\n', { rate: 20 }), 'SAMPLES_INVALID');
    expect(err.details?.map((d) => d.field)).toEqual(['/rows/1/y', '/rows/2/x']);
  });

  it('rejects a ragged row and a blank line inside the data', () => {
    expectRejected(
      () => parseSampleCsv('x,y\n1,2\n3\n', { rate: 20 }),
      'SAMPLES_INVALID',
      '/rows/2',
      /line 3 has 1 cells; the header has 2/,
    );
    expectRejected(() => parseSampleCsv('x,y\n1,2\n\n3,4\n', { rate: 20 }), 'SAMPLES_INVALID', '/rows/2', /has 0 cells/);
  });

  it.each([
    ['NaN', /is NaN/],
    ['nan', /is NaN/],
    ['Infinity', /is infinite/],
    ['-inf', /is infinite/],
    ['1e999', /is infinite/],
    ['1e39', /outside the float32 range/],
    ['', /is empty/],
    ['0x10', /is not a number/],
  ])('rejects the cell %j', (cell, text) => {
    expectRejected(() => parseSampleCsv(`x,y\n1,${cell}\n`, { rate: 20 }), 'SAMPLES_INVALID', '/rows/1/y', text);
  });

  it('rejects empty input and a header without rows', () => {
    expectRejected(() => parseSampleCsv('', { rate: 20 }), 'SAMPLES_EMPTY');
    expectRejected(() => parseSampleCsv('\n\n', { rate: 20 }), 'SAMPLES_EMPTY');
    expectRejected(() => parseSampleCsv('x,y,z\n', { rate: 20 }), 'SAMPLES_EMPTY');
  });

  it('rejects fewer samples than one window', () => {
    const err = expectRejected(() => parseSampleCsv('x\n1\n2\n3\n', { rate: 20, minRows: 50 }), 'SAMPLES_TOO_FEW');
    expect(err.params).toMatchObject({ required: 50, got: 3 });
  });

  it('rejects too many channels, rows and cells', () => {
    const header = Array.from({ length: 5 }, (_, i) => `c${i}`).join(',');
    expectRejected(
      () => parseSampleCsv(`${header}\n1,2,3,4,5\n`, { rate: 1, limits: { maxChannels: 4 } }),
      'SAMPLES_TOO_MANY',
      '/header',
    );
    expectRejected(
      () => parseSampleCsv('x\n1\n2\n3\n', { rate: 1, limits: { maxRows: 2 } }),
      'SAMPLES_TOO_MANY',
      'body',
      /3 rows/,
    );
    expectRejected(
      () => parseSampleCsv('x,y\n1,2\n3,4\n', { rate: 1, limits: { maxCells: 3 } }),
      'SAMPLES_TOO_MANY',
      'body',
      /4 cells/,
    );
  });

  it('rejects bad, duplicate and missing header names', () => {
    expectRejected(() => parseSampleCsv('x,x\n1,2\n', { rate: 1 }), 'SAMPLES_INVALID', '/header/2', /repeats/);
    expectRejected(() => parseSampleCsv('x,a b\n1,2\n', { rate: 1 }), 'SAMPLES_INVALID', '/header/2', /not a valid name/);
    expectRejected(() => parseSampleCsv('t\n1\n2\n', { rate: 1 }), 'SAMPLES_INVALID', '/header', /no value columns/);
  });

  it('rejects a t column that does not increase', () => {
    expectRejected(
      () => parseSampleCsv('t,x\n0,1\n50,2\n50,3\n', { rate: 20 }),
      'SAMPLES_INVALID',
      '/rows/3/t',
      /does not increase/,
    );
  });

  it('rejects a missing, invalid or contradicted rate', () => {
    expectRejected(() => parseSampleCsv('x\n1\n2\n'), 'SAMPLES_INVALID', 'query.rate', /rate is required/);
    expectRejected(() => parseSampleCsv('x\n1\n', { rate: -5 }), 'SAMPLES_INVALID', 'query.rate', /positive number/);
    expectRejected(() => parseSampleCsv('x\n1\n', { rate: 20_000 }), 'SAMPLES_TOO_MANY', 'query.rate');
    expectRejected(
      () => parseSampleCsv('t,x\n0,1\n20,2\n40,3\n', { rate: 20 }),
      'SAMPLES_INVALID',
      'query.rate',
      /implies 50\.00 Hz/,
    );
  });

  it('rejects bytes that are not UTF-8', () => {
    expectRejected(
      () => parseSampleCsv(new Uint8Array([0x78, 0x0a, 0xff, 0xfe]), { rate: 1 }),
      'SAMPLES_INVALID',
      'body',
      /UTF-8/,
    );
  });
});

describe('CSV feature rows', () => {
  it('keeps every column, including one named t, as a feature', () => {
    const set = parseFeatureRowsCsv('t,h1,dd1\n0.1,0.2,0.3\n0.4,0.5,0.6\n');
    expect(set.kind).toBe('features');
    expect(set.channels).toEqual(['t', 'h1', 'dd1']);
    expect(set.length).toBe(2);
    expect(set.data[5]).toBeCloseTo(0.6, 6);
  });

  it('rejects bad cells, too many columns and too few rows', () => {
    expectRejected(() => parseFeatureRowsCsv('a,b\n1,x\n'), 'SAMPLES_INVALID', '/rows/1/b');
    expectRejected(
      () => parseFeatureRowsCsv('a,b,c\n1,2,3\n', { limits: { maxFeatureColumns: 2 } }),
      'SAMPLES_TOO_MANY',
      '/header',
      /3 columns/,
    );
    expectRejected(() => parseFeatureRowsCsv('a\n1\n', { minRows: 2 }), 'SAMPLES_TOO_FEW');
  });
});

describe('JSON samples', () => {
  const body = {
    rate: 20,
    channels: ['x', 'y'],
    samples: [
      [1, 2],
      [3, 4],
      [5, 6],
    ],
  };

  it('reads a sample set', () => {
    const set = parseSampleJson(body);
    expect(set).toMatchObject({ kind: 'samples', rate: 20, channels: ['x', 'y'], length: 3 });
    expect(Array.from(set.data)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('rejects a ragged row and non-numbers with JSON pointers', () => {
    expectRejected(() => parseSampleJson({ ...body, samples: [[1, 2], [3]] }), 'SAMPLES_INVALID', '/samples/1', /has 1 values/);
    expectRejected(() => parseSampleJson({ ...body, samples: [[1, '2']] }), 'SAMPLES_INVALID', '/samples/0/1', /\(y\) is string/);
    expectRejected(() => parseSampleJson({ ...body, samples: [[1, null]] }), 'SAMPLES_INVALID', '/samples/0/1', /null/);
    expectRejected(() => parseSampleJson({ ...body, samples: [5] }), 'SAMPLES_INVALID', '/samples/0', /a number/);
  });

  it('rejects NaN and infinities (JSON.parse turns 1e400 into Infinity)', () => {
    const parsed: unknown = JSON.parse('{"rate":20,"channels":["x"],"samples":[[1],[1e400]]}');
    expectRejected(() => parseSampleJson(parsed), 'SAMPLES_INVALID', '/samples/1/0', /infinite/);
    expectRejected(() => parseSampleJson({ ...body, samples: [[Number.NaN, 1]] }), 'SAMPLES_INVALID', '/samples/0/0', /NaN/);
  });

  it('rejects a bad envelope by schema', () => {
    expectRejected(() => parseSampleJson({ channels: ['x'], samples: [] }), 'SAMPLES_INVALID', '/rate');
    expectRejected(() => parseSampleJson({ ...body, extra: 1 }), 'SAMPLES_INVALID');
    expectRejected(() => parseSampleJson({ ...body, channels: [] }), 'SAMPLES_INVALID', '/channels');
    expectRejected(() => parseSampleJson('x,y'), 'SAMPLES_INVALID');
    expectRejected(() => parseSampleJson({ ...body, channels: ['x', 'x'] }), 'SAMPLES_INVALID', '/channels/1', /repeats/);
  });

  it('rejects empty, too few, too many and a contradicting query rate', () => {
    expectRejected(() => parseSampleJson({ ...body, samples: [] }), 'SAMPLES_EMPTY');
    expectRejected(() => parseSampleJson(body, { minRows: 4 }), 'SAMPLES_TOO_FEW');
    expectRejected(() => parseSampleJson(body, { limits: { maxRows: 2 } }), 'SAMPLES_TOO_MANY', '/samples');
    expectRejected(() => parseSampleJson(body, { limits: { maxChannels: 1 } }), 'SAMPLES_TOO_MANY', '/channels');
    expectRejected(() => parseSampleJson(body, { limits: { maxCells: 5 } }), 'SAMPLES_TOO_MANY', '/samples', /6 cells/);
    expectRejected(() => parseSampleJson({ ...body, rate: 0 }), 'SAMPLES_INVALID', '/rate');
    expectRejected(() => parseSampleJson(body, { rate: 50 }), 'SAMPLES_INVALID', 'query.rate');
  });
});

describe('JSON feature rows and kind dispatch', () => {
  const rows = { kind: 'features', columns: ['h1', 'h2'], rows: [[0.1, 0.2]] };

  it('reads feature rows and dispatches on kind', () => {
    expect(parseFeatureRowsJson(rows)).toMatchObject({ kind: 'features', channels: ['h1', 'h2'], length: 1 });
    expect(parseJsonUpload(rows).kind).toBe('features');
    expect(parseJsonUpload({ rate: 1, channels: ['x'], samples: [[1]] }).kind).toBe('samples');
    const { kind: _, ...withoutKind } = rows;
    expect(parseJsonUpload(withoutKind, { kind: 'features' }).kind).toBe('features');
  });

  it('rejects contradictory kinds and bad rows', () => {
    expectRejected(() => parseJsonUpload(rows, { kind: 'samples' }), 'SAMPLES_INVALID', '/kind');
    expectRejected(() => parseJsonUpload({ ...rows, kind: 'other' }), 'SAMPLES_INVALID', '/kind');
    expectRejected(() => parseFeatureRowsJson({ ...rows, rows: [[1, 2, 3]] }), 'SAMPLES_INVALID', '/rows/0');
    expectRejected(() => parseFeatureRowsJson(rows, { limits: { maxFeatureColumns: 1 } }), 'SAMPLES_TOO_MANY', '/columns');
  });
});

describe('ingest options', () => {
  it.each([
    [{ minRows: 0 }, 'options.minRows must be a positive integer, got 0'],
    [{ minRows: 1.5 }, 'options.minRows must be a positive integer, got 1.5'],
    [{ limits: { maxRows: -1 } }, 'options.limits.maxRows must be a positive integer, got -1'],
    [{ limits: { maxChannels: 0 } }, 'options.limits.maxChannels must be a positive integer, got 0'],
    [{ limits: { maxFeatureColumns: 0 } }, 'options.limits.maxFeatureColumns must be a positive integer, got 0'],
    [{ limits: { maxCells: Number.NaN } }, 'options.limits.maxCells must be a positive integer, got NaN'],
    [{ limits: { maxRate: 0 } }, 'options.limits.maxRate must be a positive finite number, got 0'],
  ])('names the bad option %j', (options, message) => {
    expect(() => resolveIngestOptions(options)).toThrow(new TypeError(message));
  });
});
