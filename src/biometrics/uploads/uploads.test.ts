import { describe, expect, it } from 'vitest';
import { VigilError } from '../../../protocol/errors.ts';
import { encodeFrame } from '../../../protocol/frames.ts';
import type { SampleSet } from '../samples.ts';
import { decodeUpload, sniffFormat, uploadFormat, type UploadFile } from './decode-upload.ts';
import { parseFrameUpload } from './frame-upload.ts';

const text = (body: string, contentType = 'text/csv', filename?: string): UploadFile => ({
  bytes: Buffer.from(body),
  contentType,
  filename,
});

function frames(
  count: number,
  perFrame: number,
  options: { channels?: number; rate?: number; seq?: (i: number) => number; stream?: (i: number) => number } = {},
): Buffer {
  const channels = options.channels ?? 3;
  const rate = options.rate ?? 20;
  const parts: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    parts.push(
      encodeFrame({
        stream: options.stream?.(i) ?? 7,
        seq: options.seq?.(i) ?? 100 + i,
        timestamp: 1_700_000_000_000 + (i * perFrame * 1000) / rate,
        channels,
        values: Array.from({ length: perFrame * channels }, (_, k) => i * 1000 + k),
      }),
    );
  }
  return Buffer.concat(parts);
}

function rejection(fn: () => unknown): VigilError {
  try {
    fn();
  } catch (err) {
    if (err instanceof VigilError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('upload formats', () => {
  it('a raw body is what its content type says; octet-stream is frames', () => {
    expect(uploadFormat(text('x\n1'), 'body')).toBe('csv');
    expect(uploadFormat(text('x\n1', 'text/plain; charset=utf-8'), 'body')).toBe('csv');
    expect(uploadFormat(text('{}', 'application/json'), 'body')).toBe('json');
    expect(uploadFormat(text('x,y\n1,2', 'application/octet-stream'), 'body')).toBe('frames');
    expect(rejection(() => uploadFormat(text('<p>', 'text/html'), 'body')).code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('a multipart file with a generic type is told by extension, then by its first bytes', () => {
    expect(uploadFormat(text('{"rate":1}', 'application/octet-stream', 'a.csv'), 'file')).toBe('csv');
    expect(uploadFormat(text('x,y', 'application/octet-stream', 'a.json'), 'file')).toBe('json');
    expect(uploadFormat(text('  {"rate":1}', 'application/octet-stream', 'blob'), 'file')).toBe('json');
    expect(uploadFormat({ bytes: frames(1, 5), contentType: 'application/octet-stream' }, 'file')).toBe('frames');
    expect(uploadFormat(text('x,y\n1,2', 'application/octet-stream'), 'file')).toBe('csv');
  });

  it('sniffs legacy files whatever they are labelled', () => {
    expect(sniffFormat(Buffer.from('\uFEFF{"samples":[]}'))).toBe('json');
    expect(sniffFormat(frames(2, 3))).toBe('frames');
    expect(sniffFormat(Buffer.from('1,2,3\n'))).toBe('csv');
    expect(uploadFormat(text('{}', 'text/csv'), 'untyped')).toBe('json');
  });
});

describe('binary frame uploads', () => {
  it('joins consecutive frames and infers the rate from their timestamps', () => {
    const set = parseFrameUpload(frames(4, 10, { rate: 50 }));
    expect(set).toMatchObject({ kind: 'samples', rate: 50, channels: ['c0', 'c1', 'c2'], length: 40 });
    expect(Array.from(set.data.subarray(27, 33))).toEqual([27, 28, 29, 1000, 1001, 1002]);
  });

  it('takes declared names and rate, and checks the rate against the timestamps', () => {
    const set = parseFrameUpload(frames(3, 10), { rate: 20, channels: ['x', 'y', 'z'] });
    expect(set.channels).toEqual(['x', 'y', 'z']);
    expect(rejection(() => parseFrameUpload(frames(3, 10), { rate: 50 })).message).toMatch(/timestamps imply 20\.00 Hz/);
    expect(rejection(() => parseFrameUpload(frames(3, 10), { channels: ['x', 'y'] })).details).toEqual([
      { field: 'query.channels', message: 'channels names 2 channels; the frames carry 3' },
    ]);
  });

  it('needs a rate when one frame cannot imply it', () => {
    expect(rejection(() => parseFrameUpload(frames(1, 10))).details?.[0]?.field).toBe('query.rate');
    expect(parseFrameUpload(frames(1, 10), { fallbackRate: 25 }).rate).toBe(25);
  });

  it('reads int16 frames with their scale', () => {
    const bytes = encodeFrame({
      stream: 1,
      seq: 0,
      timestamp: 0,
      channels: 2,
      values: [0.5, -1.25, 2, 3],
      sampleType: 'int16',
      scale: 0.25,
    });
    expect(Array.from(parseFrameUpload(bytes, { rate: 10 }).data)).toEqual([0.5, -1.25, 2, 3]);
  });

  it.each([
    ['a gap in the sequence', frames(3, 5, { seq: (i) => (i === 2 ? 9 : i) }), /frame 2 has sequence 9, expected 2/],
    ['another stream', frames(2, 5, { stream: (i) => i }), /frame 1 belongs to stream 1/],
    ['a truncated frame', frames(2, 5).subarray(0, -3), /frame 1 \(byte 84\): frame is 81 bytes/],
    ['a short tail', Buffer.concat([frames(1, 5), Buffer.alloc(10)]), /frame 1 \(byte 84\): 10 bytes left/],
    ['a bad version', Buffer.from(frames(1, 5)).fill(9, 0, 1), /unsupported frame version 9/],
    [
      'a NaN sample',
      Buffer.concat([
        frames(1, 5),
        Buffer.from(encodeFrame({ stream: 7, seq: 101, timestamp: 250, channels: 3, values: [1, 2, 3] })).fill(0xff, 24, 28),
      ]),
      /not finite/,
    ],
  ])('refuses %s, naming the frame', (_, bytes, message) => {
    const err = rejection(() => parseFrameUpload(bytes, { rate: 20 }));
    expect(err.code).toBe('SAMPLES_INVALID');
    expect(err.message).toMatch(message);
    expect(err.details?.[0]?.field).toMatch(/^\/frames\/\d+$/);
  });

  it('counts samples and cells against the limits', () => {
    expect(rejection(() => parseFrameUpload(frames(3, 10), { rate: 20, limits: { maxRows: 25 } })).code).toBe('SAMPLES_TOO_MANY');
    expect(rejection(() => parseFrameUpload(Buffer.alloc(0))).code).toBe('SAMPLES_INVALID');
  });
});

describe('decodeUpload', () => {
  it('CSV samples: declared rate, t column, or the fallback when the file has neither', () => {
    expect((decodeUpload(text('x,y\n1,2\n3,4\n'), 'body', { rate: 10 }) as SampleSet).rate).toBe(10);
    expect((decodeUpload(text('t,x\n0,1\n50,2\n100,3\n'), 'body', {}, { rate: 10 }) as SampleSet).rate).toBe(20);
    expect((decodeUpload(text('x\n1\n2\n'), 'body', {}, { rate: 10 }) as SampleSet).rate).toBe(10);
    expect(rejection(() => decodeUpload(text('x\n1\n2\n'), 'body')).details?.[0]?.field).toBe('query.rate');
  });

  it('refuses channel names for a format that names its own', () => {
    const err = rejection(() => decodeUpload(text('x\n1\n'), 'body', { rate: 1, channels: ['a'] }));
    expect(err.details?.[0]?.field).toBe('query.channels');
    expect(
      rejection(() =>
        decodeUpload({ bytes: frames(2, 2), contentType: 'application/octet-stream' }, 'body', { kind: 'features' }),
      ).message,
    ).toMatch(/frames carry samples/);
  });

  it('JSON: its own rate wins over a fallback; a rate-less sample set takes the fallback', () => {
    const json = (body: unknown) => text(JSON.stringify(body), 'application/json');
    expect((decodeUpload(json({ rate: 5, channels: ['x'], samples: [[1]] }), 'body', {}, { rate: 20 }) as SampleSet).rate).toBe(
      5,
    );
    expect((decodeUpload(json({ channels: ['x'], samples: [[1]] }), 'body', {}, { rate: 20 }) as SampleSet).rate).toBe(20);
    const rows = decodeUpload(json({ columns: ['a', 'b'], rows: [[1, 2]] }), 'body', { kind: 'features' });
    expect(rows).toMatchObject({ kind: 'features', channels: ['a', 'b'], length: 1 });
    expect(rejection(() => decodeUpload(text('{"rate":', 'application/json'), 'body')).code).toBe('JSON_MALFORMED');
  });

  it('frames take the fallback channel names only when the count matches', () => {
    const three = { bytes: frames(2, 4), contentType: 'application/octet-stream' };
    expect(decodeUpload(three, 'body', {}, { channels: ['x', 'y', 'z'] }).channels).toEqual(['x', 'y', 'z']);
    expect(decodeUpload(three, 'body', {}, { channels: ['x', 'y'] }).channels).toEqual(['c0', 'c1', 'c2']);
  });

  it('legacy files: a CSV of bare numbers has no header; lines keep their numbers in errors', () => {
    const set = decodeUpload(text('1,2,3\n4,5,6\n'), 'untyped', {}, { rate: 20 }) as SampleSet;
    expect(set).toMatchObject({ rate: 20, channels: ['c1', 'c2', 'c3'], length: 2 });
    const named = decodeUpload(text('1,2,3\n4,5,6\n'), 'untyped', {}, { rate: 20, channels: ['x', 'y', 'z'] });
    expect(named.channels).toEqual(['x', 'y', 'z']);
    const withHeader = decodeUpload(text('x,y,z\n1,2,3\n'), 'untyped', {}, { rate: 20 });
    expect(withHeader.channels).toEqual(['x', 'y', 'z']);
    const err = rejection(() => decodeUpload(text('1,2,3\n4,abc,6\n'), 'untyped', {}, { rate: 20 }));
    expect(err.message).toContain('line 2, column c2: "abc" is not a number');
    expect(err.details?.[0]).toEqual({ field: '/rows/2/c2', message: 'line 2, column c2: "abc" is not a number' });
  });
});
