import { afterAll, describe, expect, it } from 'vitest';
import { VigilError } from '../../../protocol/errors.ts';
import { extractWindows } from '../features/extract-windows.ts';
import { sampleFeatureSpec } from '../features/feature-spec.ts';
import type { SampleSet } from '../samples.ts';
import { decodeUpload } from './decode-upload.ts';
import { UploadDecoder } from './upload-decoder.ts';

const rows = Array.from({ length: 600 }, (_, i) => `${Math.sin(i / 3).toFixed(4)},${Math.cos(i / 5).toFixed(4)},${(i % 9) / 4}`);
const csv = () => ({ bytes: Buffer.from(`x,y,z\n${rows.join('\n')}\n`), contentType: 'text/csv' });
const spec = sampleFeatureSpec({ rate: 20, channels: ['x', 'y', 'z'] });

describe('UploadDecoder', () => {
  // Everything above 0 bytes goes to the worker thread.
  const threaded = new UploadDecoder({ inlineBytes: 0 });
  afterAll(() => threaded.close());

  it('decodes in a worker thread exactly what the inline decoder gives', async () => {
    const inline = decodeUpload(csv(), 'body', { rate: 20 }) as SampleSet;
    const decoded = (await threaded.decode(csv(), 'body', { rate: 20 })) as SampleSet;
    expect(decoded).toMatchObject({ kind: 'samples', rate: 20, channels: ['x', 'y', 'z'], length: 600 });
    expect(decoded.data).toEqual(inline.data);
  });

  it('featurises there too, with the same windows and features', async () => {
    const windows = await threaded.decodeWindows(csv(), 'body', { rate: 20 }, {}, spec, 100);
    const reference = extractWindows(decodeUpload(csv(), 'body', { rate: 20 }), spec);
    expect(windows.features.n).toBe(reference.features.n);
    expect(windows.features.data).toEqual(reference.features.data);
    expect(windows.starts).toEqual(reference.starts);
  });

  it('brings catalogued errors back whole (code, message, details)', async () => {
    const bad = { bytes: Buffer.from('x,y\n1,2\n3,oops\n'), contentType: 'text/csv' };
    const err = await threaded.decode(bad, 'body', { rate: 20 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VigilError);
    expect(err).toMatchObject({
      code: 'SAMPLES_INVALID',
      status: 422,
      details: [{ field: '/rows/2/y', message: 'line 3, column y: "oops" is not a number' }],
    });
    const tooMany = await threaded.decodeWindows(csv(), 'body', { rate: 20 }, {}, spec, 5).catch((e: unknown) => e);
    expect(tooMany).toMatchObject({ code: 'SAMPLES_TOO_MANY', message: 'Too many windows: 23 exceeds the limit of 5' });
  });

  it('keeps small uploads on the calling thread', () => {
    const decoder = new UploadDecoder();
    expect(decoder.offloads(csv())).toBe(false);
    expect(decoder.offloads({ bytes: Buffer.alloc(300_000), contentType: 'text/csv' })).toBe(true);
  });

  it.each([
    [{ inlineBytes: -1 }, 'options.inlineBytes must be an integer >= 0, got -1'],
    [{ threads: 0 }, 'options.threads must be an integer >= 1, got 0'],
    [{ idleTimeoutMs: 1.5 }, 'options.idleTimeoutMs must be an integer >= 0, got 1.5'],
  ])('names the bad option %j', (options, message) => {
    expect(() => new UploadDecoder(options)).toThrow(new TypeError(message));
  });
});
