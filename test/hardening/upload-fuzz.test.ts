import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ERRORS, VigilError } from '../../protocol/errors.ts';
import { FRAME_MAX_CHANNELS, decodeFrame, encodeFrame } from '../../protocol/frames.ts';
import { parseFeatureRowsCsv, parseJsonUpload, parseSampleCsv } from '../../src/biometrics/ingest/index.ts';
import { decodeUpload, type DeclaredParams } from '../../src/biometrics/uploads/decode-upload.ts';
import { parseClientMessage } from '../../src/realtime/control-messages.ts';
import { parseForm } from '../../src/server/http/body.ts';
import { abusiveJsonText, jsonBytes } from './support/body-text.ts';
import { fcParams, fuzzSettings } from './support/fuzz-settings.ts';
import { hostileNumber, hostileString } from './support/hostile-values.ts';
import { csvUpload, featureJsonUpload, framesUpload, multipartUpload, sampleJsonUpload } from './support/upload-arbitraries.ts';

// Every upload format and wire codec on its own, at many more cases than the HTTP fuzzer can
// afford: CSV samples and feature rows, JSON sample sets and feature rows, concatenated binary
// frames, multipart and urlencoded forms, socket frames and control messages. Each must either
// return a value or refuse with a catalogued 4xx VigilError naming the problem — never another
// exception (a 500 over HTTP, a dead socket handler), and never take long.
const CASES = fuzzSettings().runs * 20;
/** Far above what any case here needs; a parser that goes quadratic shows up. */
const CASE_BUDGET_MS = 2_000;

/** Runs `parse`; fails unless it returns or throws a catalogued client error, in time. */
function judge(name: string, parse: () => unknown): void {
  const started = performance.now();
  try {
    parse();
  } catch (err) {
    if (!(err instanceof VigilError))
      throw new Error(`${name} threw ${(err as Error)?.name}: ${(err as Error)?.message}`, { cause: err });
    if (!(err.code in ERRORS)) throw new Error(`${name} threw uncatalogued ${err.code}`, { cause: err });
    if (err.status >= 500) throw new Error(`${name} refused with ${err.status} ${err.code}: ${err.message}`, { cause: err });
    if (err.message.length === 0) throw new Error(`${name}: ${err.code} without a message`, { cause: err });
  }
  const ms = performance.now() - started;
  if (ms > CASE_BUDGET_MS) throw new Error(`${name} took ${ms.toFixed(0)} ms`);
}

const rate = fc.option(fc.oneof(fc.constantFrom(20, 50, 100, 1, 0.5), hostileNumber), { nil: undefined });
const declared: fc.Arbitrary<DeclaredParams> = fc.record(
  {
    kind: fc.constantFrom<'samples' | 'features'>('samples', 'features'),
    rate,
    channels: fc.array(fc.constantFrom('x', 'y', 'z', 'c0', ''), { maxLength: 4 }),
  },
  { requiredKeys: [] },
);
const minRows = fc.option(fc.integer({ min: 1, max: 200 }), { nil: undefined });

describe('upload formats and wire codecs, fuzzed', () => {
  it(`CSV samples and feature rows (${CASES} cases each)`, () => {
    fc.assert(
      fc.property(csvUpload, rate, minRows, fc.boolean(), (text, r, rows, asBytes) => {
        const input = asBytes ? Buffer.from(text, 'utf8') : text;
        judge('parseSampleCsv', () => parseSampleCsv(input, { rate: r, minRows: rows }));
        judge('parseFeatureRowsCsv', () => parseFeatureRowsCsv(input, { minRows: rows }));
      }),
      fcParams('upload csv', CASES),
    );
  });

  it(`JSON sample sets and feature rows (${CASES} cases each)`, () => {
    fc.assert(
      fc.property(
        fc.oneof(sampleJsonUpload, featureJsonUpload),
        fc.constantFrom(undefined, 'samples', 'features'),
        rate,
        minRows,
        (body, kind, r, rows) => {
          judge('parseJsonUpload', () => parseJsonUpload(body, { kind: kind, rate: r, minRows: rows }));
        },
      ),
      fcParams('upload json', CASES),
    );
  });

  it(`whole uploads through decodeUpload: every format, content type and source (${CASES} cases)`, () => {
    const bytes = fc.oneof(
      csvUpload.map((t) => Buffer.from(t)),
      framesUpload,
      fc.oneof(sampleJsonUpload, featureJsonUpload).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
      abusiveJsonText.map(jsonBytes),
      fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b)),
    );
    const contentType = fc.constantFrom(
      'text/csv',
      'text/plain',
      'application/json',
      'application/octet-stream',
      'application/x+json',
      '',
      'image/png',
      'TEXT/CSV; charset=latin1',
    );
    fc.assert(
      fc.property(
        bytes,
        contentType,
        fc.option(fc.constantFrom('a.csv', 'a.json', 'a.bin', 'a', '.csv', '../x.frames'), { nil: undefined }),
        fc.constantFrom<'body' | 'file' | 'untyped'>('body', 'file', 'untyped'),
        declared,
        declared,
        (data, type, filename, source, asked, fallback) => {
          judge('decodeUpload', () => decodeUpload({ bytes: data, contentType: type, filename }, source, asked, fallback));
        },
      ),
      fcParams('upload decode', CASES),
    );
  });

  it(`multipart and urlencoded forms (${CASES} cases)`, async () => {
    const form = fc.oneof(
      multipartUpload,
      fc
        .string({ unit: 'binary', maxLength: 200 })
        .map((text) => ({ bytes: Buffer.from(text), contentType: 'application/x-www-form-urlencoded' })),
      fc
        .tuple(
          multipartUpload,
          fc.nat(),
          fc.constantFrom(
            'multipart/form-data',
            'multipart/form-data; boundary=',
            'multipart/form-data; boundary="unclosed',
            'multipart/mixed; boundary=x',
          ),
        )
        .map(([m, cut, type]) => ({ bytes: m.bytes.subarray(0, cut % (m.bytes.length + 1)), contentType: type })),
    );
    await fc.assert(
      fc.asyncProperty(form, fc.constantFrom(64, 1024, 1 << 20), async ({ bytes, contentType }, limit) => {
        const started = performance.now();
        try {
          await parseForm(bytes, contentType, limit);
        } catch (err) {
          if (!(err instanceof VigilError) || err.status >= 500)
            throw new Error(`parseForm threw ${String(err)}`, { cause: err });
        }
        expect(performance.now() - started).toBeLessThan(CASE_BUDGET_MS);
      }),
      fcParams('upload forms', CASES),
    );
  });

  it(`socket frames: decodeFrame never throws, and round-trips what encodeFrame makes (${CASES} cases)`, () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), framesUpload, (noise, frames) => {
        for (const input of [noise, frames, frames.subarray(0, 24 + (noise.length % 40))]) {
          const decoded = decodeFrame(input);
          if (!decoded.ok && decoded.reason.length === 0) throw new Error('a refusal without a reason');
        }
      }),
      fcParams('frame decode noise', CASES),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: FRAME_MAX_CHANNELS }),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.double({ min: 0, max: 1e15, noNaN: true }),
        fc.boolean(),
        (channels, count, stream, seq, timestamp, ack) => {
          const values = Array.from({ length: channels * count }, (_, i) => Math.fround(Math.sin(i + seq) * 100));
          const decoded = decodeFrame(encodeFrame({ stream, seq, timestamp, channels, values, ackRequested: ack }));
          if (!decoded.ok) throw new Error(decoded.reason);
          expect(decoded.frame).toMatchObject({ stream, seq, timestamp, channels, count, ackRequested: ack });
          expect(Array.from(decoded.frame.values)).toEqual(values);
        },
      ),
      fcParams('frame round trip', CASES),
    );
  });

  it(`socket control messages: parseClientMessage never throws on any text (${CASES} cases)`, () => {
    fc.assert(
      fc.property(
        fc.oneof(
          hostileString,
          abusiveJsonText.map((t) => jsonBytes(t).toString('utf8')),
          fc.json(),
        ),
        (text) => {
          const started = performance.now();
          const parsed = parseClientMessage(text);
          if (!parsed.ok && parsed.reason.length === 0) throw new Error('a refusal without a reason');
          expect(performance.now() - started).toBeLessThan(CASE_BUDGET_MS);
        },
      ),
      fcParams('control messages', CASES),
    );
  });
});
