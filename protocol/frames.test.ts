import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FRAME_HEADER_BYTES,
  FRAME_MAX_CHANNELS,
  FrameEncodeError,
  decodeFrame,
  encodeFrame,
  frameLength,
  type FrameInput,
  type SampleFrame,
} from './frames.ts';

function decoded(bytes: Uint8Array | ArrayBuffer): SampleFrame {
  const result = decodeFrame(bytes);
  if (!result.ok) throw new Error(`expected a valid frame: ${result.reason}`);
  return result.frame;
}

function reason(bytes: Uint8Array): string {
  const result = decodeFrame(bytes);
  if (result.ok) throw new Error('expected the frame to be refused');
  return result.reason;
}

const base: FrameInput = { stream: 7, seq: 42, timestamp: 1_700_000_000_123.5, channels: 3, values: [1, 2, 3, 4, 5, 6] };

describe('sample frame layout', () => {
  it('writes every header byte where the spec says', () => {
    const bytes = encodeFrame({ ...base, ackRequested: true });
    expect(bytes.byteLength).toBe(24 + 2 * 3 * 4);
    const view = new DataView(bytes.buffer);
    expect(view.getUint8(0)).toBe(1); // version
    expect(view.getUint8(1)).toBe(1); // float32
    expect(view.getUint8(2)).toBe(0b1); // ack requested
    expect(view.getUint8(3)).toBe(3); // channels
    expect(view.getUint16(4, true)).toBe(7); // stream
    expect(view.getUint16(6, true)).toBe(2); // samples
    expect(view.getFloat64(8, true)).toBe(1_700_000_000_123.5);
    expect(view.getUint32(16, true)).toBe(42);
    expect(view.getFloat32(20, true)).toBe(1);
    expect([0, 1, 2, 3, 4, 5].map((i) => view.getFloat32(24 + i * 4, true))).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('matches the byte-exact example in protocol/README.md', () => {
    const bytes = encodeFrame({ stream: 1, seq: 5, timestamp: 1000, channels: 2, values: [0.5, -1], ackRequested: true });
    expect(Buffer.from(bytes).toString('hex')).toBe(
      '01' + '01' + '01' + '02' + '0100' + '0100' + '0000000000408f40' + '05000000' + '0000803f' + '0000003f' + '000080bf',
    );
  });

  it('encodes int16 with a scale', () => {
    const bytes = encodeFrame({ ...base, sampleType: 'int16', scale: 0.01, values: [0.5, -0.25, 327.67, -400, 0, 0.004] });
    expect(bytes.byteLength).toBe(frameLength(2, 3, 'int16'));
    const view = new DataView(bytes.buffer);
    expect(view.getUint8(1)).toBe(2);
    expect([0, 1, 2, 3, 4, 5].map((i) => view.getInt16(24 + i * 2, true))).toEqual([50, -25, 32767, -32768, 0, 0]);
    const frame = decoded(bytes);
    expect(frame.sampleType).toBe('int16');
    expect(frame.values[0]).toBeCloseTo(0.5, 6);
    expect(frame.values[3]).toBeCloseTo(-327.68, 3); // clamped
  });

  it('reads float32 samples in place, without copying', () => {
    const bytes = encodeFrame(base);
    const frame = decoded(bytes);
    expect(frame.values.buffer).toBe(bytes.buffer);
    expect(frame.values.byteOffset).toBe(FRAME_HEADER_BYTES);
  });

  it('copies when the payload is not 4-byte aligned', () => {
    const bytes = encodeFrame(base);
    const shifted = new Uint8Array(bytes.byteLength + 1);
    shifted.set(bytes, 1);
    const frame = decoded(shifted.subarray(1));
    expect(Array.from(frame.values)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe('sample frame validation', () => {
  const good = () => encodeFrame(base);
  const mutate = (edit: (view: DataView, bytes: Uint8Array) => void): Uint8Array => {
    const bytes = good();
    edit(new DataView(bytes.buffer), bytes);
    return bytes;
  };

  it.each([
    ['a short header', () => good().subarray(0, 23), /shorter than its 24-byte header/],
    ['an unknown version', () => mutate((v) => v.setUint8(0, 2)), /unsupported frame version 2/],
    ['an unknown sample type', () => mutate((v) => v.setUint8(1, 9)), /unknown sample type 9/],
    ['reserved flags', () => mutate((v) => v.setUint8(2, 0b10)), /reserved flag bits/],
    ['zero channels', () => mutate((v) => v.setUint8(3, 0)), /channel count 0/],
    ['too many channels', () => mutate((v) => v.setUint8(3, FRAME_MAX_CHANNELS + 1)), /channel count 65/],
    ['zero samples', () => mutate((v) => v.setUint16(6, 0, true)), /sample count is 0/],
    ['a NaN timestamp', () => mutate((v) => v.setFloat64(8, Number.NaN, true)), /timestamp/],
    ['a negative timestamp', () => mutate((v) => v.setFloat64(8, -1, true)), /timestamp/],
    ['a count larger than the payload', () => mutate((v) => v.setUint16(6, 3, true)), /need exactly 60/],
    [
      'a payload longer than the count',
      () => {
        const bytes = new Uint8Array(good().byteLength + 4);
        bytes.set(good());
        return bytes;
      },
      /need exactly 48/,
    ],
    ['a float32 scale other than 1', () => mutate((v) => v.setFloat32(20, 2, true)), /scale must be 1/],
    ['a NaN sample', () => mutate((v) => v.setFloat32(24 + 4 * 4, Number.NaN, true)), /sample 1 channel 1 is not finite/],
    ['an infinite sample', () => mutate((v) => v.setFloat32(24, Number.POSITIVE_INFINITY, true)), /sample 0 channel 0/],
    [
      'an int16 frame without scale',
      () => {
        const bytes = encodeFrame({ ...base, sampleType: 'int16', scale: 1 });
        new DataView(bytes.buffer).setFloat32(20, 0, true);
        return bytes;
      },
      /finite scale > 0/,
    ],
  ])('refuses %s', (_name, make, expected) => {
    expect(reason(make())).toMatch(expected);
  });

  it.each([
    ['stream out of range', { stream: 70_000 }, /stream/],
    ['negative seq', { seq: -1 }, /seq/],
    ['fractional seq', { seq: 1.5 }, /seq/],
    ['no channels', { channels: 0 }, /channels/],
    ['values not a multiple of channels', { values: [1, 2] }, /multiple of 3/],
    ['no values', { values: [] }, /multiple of 3/],
    ['a NaN value', { values: [1, 2, Number.NaN] }, /sample 2/],
    ['int16 without scale', { sampleType: 'int16' as const }, /scale/],
    ['int16 with a scale that underflows float32', { sampleType: 'int16' as const, scale: 1e-50 }, /scale/],
    ['a timestamp of Infinity', { timestamp: Number.POSITIVE_INFINITY }, /timestamp/],
  ])('encoder refuses %s', (_name, patch, expected) => {
    expect(() => encodeFrame({ ...base, ...patch })).toThrow(FrameEncodeError);
    expect(() => encodeFrame({ ...base, ...patch })).toThrow(expected);
  });
});

describe('sample frame round trips (property-based)', () => {
  const header = fc.record({
    stream: fc.integer({ min: 0, max: 0xffff }),
    seq: fc.integer({ min: 0, max: 0xffffffff }),
    timestamp: fc.double({ min: 0, max: 4e12, noNaN: true }),
    channels: fc.integer({ min: 1, max: FRAME_MAX_CHANNELS }),
    count: fc.integer({ min: 1, max: 40 }),
    ackRequested: fc.boolean(),
  });

  it('float32 frames decode to exactly what was encoded', () => {
    fc.assert(
      fc.property(
        header.chain((h) =>
          fc.tuple(
            fc.constant(h),
            fc.float32Array({
              noNaN: true,
              noDefaultInfinity: true,
              minLength: h.count * h.channels,
              maxLength: h.count * h.channels,
            }),
          ),
        ),
        ([h, values]) => {
          const bytes = encodeFrame({ ...h, values });
          expect(bytes.byteLength).toBe(frameLength(h.count, h.channels));
          const frame = decoded(bytes);
          expect(frame).toMatchObject({
            stream: h.stream,
            seq: h.seq,
            timestamp: h.timestamp,
            channels: h.channels,
            count: h.count,
            ackRequested: h.ackRequested,
          });
          expect(Array.from(frame.values)).toEqual(Array.from(values));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('int16 frames decode to within half a scale step of what was encoded', () => {
    fc.assert(
      fc.property(
        header.chain((h) =>
          fc.tuple(
            fc.constant(h),
            fc.double({ min: 1e-4, max: 10, noNaN: true }),
            fc.array(fc.double({ min: -1, max: 1, noNaN: true }), {
              minLength: h.count * h.channels,
              maxLength: h.count * h.channels,
            }),
          ),
        ),
        ([h, scale, unit]) => {
          const values = unit.map((u) => u * 32_000 * scale); // inside the int16 range
          const frame = decoded(encodeFrame({ ...h, values, sampleType: 'int16', scale }));
          const sent = Math.fround(scale);
          expect(frame.scale).toBe(sent);
          const worst = Math.max(...values.map((v, i) => Math.abs(frame.values[i]! - v) - Math.abs(v) * 1e-6));
          expect(worst).toBeLessThanOrEqual(sent / 2 + 1e-9);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('no byte string makes the decoder throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 200 }), (bytes) => {
        const result = decodeFrame(bytes);
        if (result.ok) expect(result.frame.values.length).toBe(result.frame.count * result.frame.channels);
      }),
      { numRuns: 2000 },
    );
  });

  it('every single-byte corruption of a header is refused or decodes consistently', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: FRAME_HEADER_BYTES - 1 }), fc.integer({ min: 0, max: 255 }), (offset, value) => {
        const bytes = encodeFrame(base);
        bytes[offset] = value;
        const result = decodeFrame(bytes);
        if (result.ok)
          expect(bytes.byteLength).toBe(frameLength(result.frame.count, result.frame.channels, result.frame.sampleType));
      }),
    );
  });
});
