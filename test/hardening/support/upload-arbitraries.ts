import fc from 'fast-check';
import { FRAME_HEADER_BYTES, encodeFrame } from '../../../protocol/frames.ts';
import { hostileNumber, hostileString, hostileValue } from './hostile-values.ts';
import { multipart } from './body-text.ts';

/**
 * Upload bodies of every format the biometrics ingest accepts (docs/biometrics.md): CSV samples
 * with a header, CSV feature rows, JSON sample sets, JSON feature rows, concatenated binary
 * sample frames, and a multipart file. Each is well-formed now and then and broken the rest of
 * the time, in the ways files break: ragged rows, odd cells, wrong headers, truncation.
 */

const cell: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.double({ min: -1e4, max: 1e4, noNaN: true }).map((v) => String(Math.round(v * 1000) / 1000)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      'NaN',
      'nan',
      'Infinity',
      '-inf',
      '1e39',
      '-3.5e38',
      '0x1F',
      '1,5',
      '"1"',
      '1e',
      '.',
      '-',
      '+1',
      '١٢٣',
      '1_000',
      'null',
    ),
  },
  { weight: 1, arbitrary: hostileString.map((s) => s.replace(/[\r\n]/g, ' ')) },
);

const channelName: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('x', 'y', 'z', 'ax', 'ay', 'az', 'gx', 'ppg', 'ecg', 'c0', 'c1') },
  { weight: 1, arbitrary: fc.constantFrom('t', 'T', '', ' x', 'x y', '"x"', 'x,y', '__proto__', 'é', 'a'.repeat(70)) },
);

/** A CSV document: header, rows, line endings, a BOM, quoting — broken a little now and then. */
export const csvUpload: fc.Arbitrary<string> = fc
  .record({
    header: fc.array(channelName, { minLength: 0, maxLength: 8 }),
    withTime: fc.boolean(),
    rows: fc.array(fc.array(cell, { minLength: 0, maxLength: 9 }), { minLength: 0, maxLength: 60 }),
    regular: fc.boolean(),
    eol: fc.constantFrom('\n', '\r\n', '\r'),
    bom: fc.boolean(),
    trailing: fc.constantFrom('', '\n', '\n\n', ',', ' '),
    start: fc.integer({ min: 0, max: 10_000 }),
    step: fc.oneof(fc.constant(20), fc.constant(0), fc.constant(-5), fc.double({ min: 0.01, max: 1000, noNaN: true })),
  })
  .map(({ header, withTime, rows, regular, eol, bom, trailing, start, step }) => {
    const names = withTime ? ['t', ...header] : header;
    const lines = [names.join(',')];
    rows.forEach((row, i) => {
      // Mostly rectangular with well-formed numbers, so parsing gets past the first row.
      const values = regular ? names.slice(withTime ? 1 : 0).map((_, c) => row[c] ?? String(i + c)) : row;
      lines.push((withTime ? [String(start + i * step), ...values] : values).join(','));
    });
    return (bom ? '\uFEFF' : '') + lines.join(eol) + trailing;
  });

/** `{ rate, channels, samples }`, well-formed or broken in one place. */
export const sampleJsonUpload: fc.Arbitrary<unknown> = fc.oneof(
  fc
    .record({
      channels: fc.uniqueArray(fc.constantFrom('x', 'y', 'z', 'a', 'b', 'c'), { minLength: 1, maxLength: 6 }),
      rate: fc.oneof(fc.constantFrom(1, 20, 50, 100, 10_000, 10_001, 0, -1), hostileNumber),
      rows: fc.integer({ min: 0, max: 200 }),
      seed: fc.integer(),
    })
    .map(({ channels, rate, rows, seed }) => ({
      rate,
      channels,
      samples: Array.from({ length: rows }, (_, i) => channels.map((_, c) => Math.sin(seed + i * 0.3 + c))),
    })),
  fc.record({
    rate: fc.oneof(hostileNumber, hostileValue),
    channels: fc.oneof(fc.array(channelName, { maxLength: 4 }), hostileValue),
    samples: fc.oneof(
      fc.array(fc.array(fc.oneof(hostileNumber, hostileValue), { maxLength: 4 }), { maxLength: 8 }),
      hostileValue,
    ),
  }),
  fc.record({ kind: fc.constantFrom('samples', 'features', 'other'), extra: hostileValue }),
  hostileValue,
);

/** `{ kind: "features", columns, rows }`. */
export const featureJsonUpload: fc.Arbitrary<unknown> = fc.oneof(
  fc
    .record({
      columns: fc.uniqueArray(fc.constantFrom('h1', 'h2', 'dd1', 'ud1', 'h3', 't'), { minLength: 1, maxLength: 6 }),
      rows: fc.integer({ min: 0, max: 80 }),
      seed: fc.integer(),
    })
    .map(({ columns, rows, seed }) => ({
      kind: 'features',
      columns,
      rows: Array.from({ length: rows }, (_, i) => columns.map((_, c) => ((seed + i * 7 + c) % 97) / 100)),
    })),
  fc.record({
    kind: fc.constantFrom('features', 'samples', undefined),
    columns: fc.oneof(fc.array(channelName, { maxLength: 5 }), hostileValue),
    rows: fc.oneof(fc.array(fc.array(fc.oneof(hostileNumber, hostileValue), { maxLength: 5 }), { maxLength: 6 }), hostileValue),
  }),
  hostileValue,
);

/** Concatenated binary sample frames (the upload form of the socket's frames), then damaged. */
export const framesUpload: fc.Arbitrary<Buffer> = fc
  .record({
    channels: fc.integer({ min: 1, max: 6 }),
    frames: fc.integer({ min: 0, max: 12 }),
    count: fc.integer({ min: 1, max: 40 }),
    int16: fc.boolean(),
    damage: fc.constantFrom('none', 'truncate', 'flip', 'append', 'mixed-channels', 'header-only'),
    at: fc.nat(),
    byte: fc.integer({ min: 0, max: 255 }),
  })
  .map(({ channels, frames, count, int16, damage, at, byte }) => {
    const parts: Uint8Array[] = [];
    for (let f = 0; f < frames; f++) {
      const c = damage === 'mixed-channels' && f % 2 === 1 ? Math.min(64, channels + 1) : channels;
      parts.push(
        encodeFrame({
          stream: 0,
          seq: f,
          timestamp: 1_700_000_000_000 + f * 1000,
          channels: c,
          values: Array.from({ length: count * c }, (_, i) => Math.cos(i)),
          ...(int16 ? { sampleType: 'int16' as const, scale: 0.01 } : {}),
        }),
      );
    }
    let bytes = Buffer.concat(parts);
    if (damage === 'truncate' && bytes.length > 0) bytes = bytes.subarray(0, at % bytes.length);
    if (damage === 'flip' && bytes.length > 0) bytes[at % bytes.length] = byte;
    if (damage === 'append') bytes = Buffer.concat([bytes, Buffer.from([byte, byte, byte])]);
    if (damage === 'header-only') bytes = Buffer.alloc(FRAME_HEADER_BYTES, byte);
    return bytes;
  });

/** A multipart form carrying one of the uploads as a file, plus parameter fields. */
export const multipartUpload: fc.Arbitrary<{ bytes: Buffer; contentType: string }> = fc
  .record({
    file: fc.oneof(
      csvUpload.map((s) => Buffer.from(s)),
      framesUpload,
      sampleJsonUpload.map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
    ),
    fileField: fc.constantFrom('file', 'data', 'upload', '__proto__', ''),
    filename: fc.constantFrom('samples.csv', 'x.json', 'frames.bin', '../../etc/passwd', '', 'a'.repeat(300), 'é.csv'),
    type: fc.constantFrom('text/csv', 'application/json', 'application/octet-stream', 'image/png', ''),
    fields: fc.array(
      fc.tuple(
        fc.constantFrom('rate', 'kind', 'modality', 'channels', 'window', 'hop', 'open', 'token', '__proto__'),
        hostileString,
      ),
      {
        maxLength: 4,
      },
    ),
    close: fc.boolean(),
    boundary: fc.constantFrom(undefined, 'x', '-'.repeat(70), 'b'),
  })
  .map(({ file, fileField, filename, type, fields, close, boundary }) =>
    multipart(
      [
        ...fields.map(([name, value]) => ({ name, value })),
        { name: fileField, value: file, filename, ...(type ? { type } : {}) },
      ],
      { close, ...(boundary ? { boundary } : {}) },
    ),
  );

/** A body for a raw route accepting `type`: the matching upload format, or something else. */
export function uploadFor(type: string): fc.Arbitrary<{ bytes: Buffer; contentType: string }> {
  switch (type) {
    case 'text/csv':
      return csvUpload.map((text) => ({ bytes: Buffer.from(text, 'utf8'), contentType: 'text/csv' }));
    case 'application/json':
      return fc
        .oneof(sampleJsonUpload, featureJsonUpload)
        .map((value) => ({ bytes: Buffer.from(JSON.stringify(value) ?? 'null', 'utf8'), contentType: 'application/json' }));
    case 'multipart/form-data':
      return multipartUpload;
    case 'application/octet-stream':
      return framesUpload.map((bytes) => ({ bytes, contentType: type }));
    default:
      return fc.uint8Array({ maxLength: 512 }).map((bytes) => ({ bytes: Buffer.from(bytes), contentType: type }));
  }
}
