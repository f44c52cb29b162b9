/**
 * The binary sample frame: one WebSocket binary message carries a run of samples of one
 * stream. Byte layout (all little-endian; see protocol/README.md for the normative table):
 *
 *   off size field
 *    0   u8   version        = 1
 *    1   u8   sample type    1 = float32, 2 = int16 scaled
 *    2   u8   flags          bit 0 = ack requested; bits 1–7 reserved, must be 0
 *    3   u8   channel count  1–64
 *    4   u16  stream id      0–65535, declared first with a `stream.open` message
 *    6   u16  sample count   ≥ 1
 *    8   f64  timestamp      first sample, milliseconds since the Unix epoch (fractions allowed)
 *   16   u32  sequence       per stream, +1 per frame
 *   20   f32  scale          int16: value = raw × scale (finite, > 0); float32: exactly 1
 *   24   …    samples        sample-major (s0c0 s0c1 … s1c0 …), 4 or 2 bytes each
 *
 * The message length must be exactly 24 + count × channels × (4 | 2). The header is 24 bytes
 * so float32 samples start 4-byte aligned and can be read in place without a copy.
 *
 * This module is shared by the gateway, the client SDK and the load tester; it has no
 * dependencies and runs in browsers.
 */

export const FRAME_VERSION = 1;
export const FRAME_HEADER_BYTES = 24;
/** Most channels one frame may carry (same bound as uploads). */
export const FRAME_MAX_CHANNELS = 64;
export const FRAME_MAX_STREAM = 0xffff;
export const FRAME_MAX_SAMPLES = 0xffff;
export const FRAME_MAX_SEQ = 0xffffffff;

export const SAMPLE_TYPE = { float32: 1, int16: 2 } as const;
export type SampleType = keyof typeof SAMPLE_TYPE;

export const FRAME_FLAGS = { ackRequested: 0b0000_0001 } as const;
const KNOWN_FLAGS = FRAME_FLAGS.ackRequested;

const BYTES_PER_VALUE: Record<number, number> = { [SAMPLE_TYPE.float32]: 4, [SAMPLE_TYPE.int16]: 2 };

/** A decoded frame. `values` holds count × channels samples, sample-major. */
export interface SampleFrame {
  stream: number;
  seq: number;
  /** First sample, ms since the Unix epoch. */
  timestamp: number;
  channels: number;
  count: number;
  sampleType: SampleType;
  /** int16 scale (1 for float32). */
  scale: number;
  ackRequested: boolean;
  /**
   * Samples as float32 (int16 already multiplied by scale). For float32 frames this may be a
   * view into the received message, which the transport reuses after the call returns: copy
   * what you keep.
   */
  values: Float32Array;
}

export type DecodeResult = { ok: true; frame: SampleFrame } | { ok: false; reason: string };

export interface FrameInput {
  stream: number;
  seq: number;
  timestamp: number;
  channels: number;
  /** count × channels samples, sample-major. */
  values: ArrayLike<number>;
  sampleType?: SampleType;
  /** Required for int16: raw = round(value / scale), clamped to the int16 range. */
  scale?: number;
  ackRequested?: boolean;
}

export class FrameEncodeError extends Error {
  override readonly name = 'FrameEncodeError';
}

// Typed-array views read native byte order; the wire is little-endian. Every platform that runs
// this (x86, ARM) is little-endian, but check once and fall back to DataView rather than assume.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Bytes of a frame with these dimensions. */
export function frameLength(count: number, channels: number, sampleType: SampleType = 'float32'): number {
  return FRAME_HEADER_BYTES + count * channels * BYTES_PER_VALUE[SAMPLE_TYPE[sampleType]]!;
}

function isUint(value: number, max: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= max;
}

/** Encodes one frame; throws FrameEncodeError on input the decoder would refuse. */
export function encodeFrame(input: FrameInput): Uint8Array {
  const sampleType = input.sampleType ?? 'float32';
  const { channels, values } = input;
  if (!isUint(input.stream, FRAME_MAX_STREAM)) throw new FrameEncodeError(`stream must be an integer 0–${FRAME_MAX_STREAM}`);
  if (!isUint(input.seq, FRAME_MAX_SEQ)) throw new FrameEncodeError(`seq must be an integer 0–${FRAME_MAX_SEQ}`);
  if (!Number.isFinite(input.timestamp) || input.timestamp < 0)
    throw new FrameEncodeError('timestamp must be a finite number ≥ 0');
  if (!Number.isInteger(channels) || channels < 1 || channels > FRAME_MAX_CHANNELS) {
    throw new FrameEncodeError(`channels must be an integer 1–${FRAME_MAX_CHANNELS}`);
  }
  if (values.length === 0 || values.length % channels !== 0) {
    throw new FrameEncodeError(`values must hold a positive multiple of ${channels} samples, got ${values.length}`);
  }
  const count = values.length / channels;
  if (count > FRAME_MAX_SAMPLES) throw new FrameEncodeError(`at most ${FRAME_MAX_SAMPLES} samples per frame, got ${count}`);
  let scale = 1;
  if (sampleType === 'int16') {
    // The wire carries float32: check the value that will actually be sent.
    scale = Math.fround(input.scale ?? Number.NaN);
    if (!(Number.isFinite(scale) && scale > 0)) throw new FrameEncodeError('int16 frames need a scale > 0 that fits a float32');
  }

  const bytes = new Uint8Array(frameLength(count, channels, sampleType));
  const view = new DataView(bytes.buffer);
  view.setUint8(0, FRAME_VERSION);
  view.setUint8(1, SAMPLE_TYPE[sampleType]);
  view.setUint8(2, input.ackRequested ? FRAME_FLAGS.ackRequested : 0);
  view.setUint8(3, channels);
  view.setUint16(4, input.stream, true);
  view.setUint16(6, count, true);
  view.setFloat64(8, input.timestamp, true);
  view.setUint32(16, input.seq, true);
  view.setFloat32(20, scale, true);

  if (sampleType === 'float32') {
    for (let i = 0; i < values.length; i++) {
      const v = Math.fround(values[i]!);
      if (!Number.isFinite(v)) throw new FrameEncodeError(`sample ${i} is not a finite float32 (${values[i]})`);
      view.setFloat32(FRAME_HEADER_BYTES + i * 4, v, true);
    }
  } else {
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (!Number.isFinite(v)) throw new FrameEncodeError(`sample ${i} is not finite (${v})`);
      const raw = Math.max(-32768, Math.min(32767, Math.round(v / scale)));
      view.setInt16(FRAME_HEADER_BYTES + i * 2, raw, true);
    }
  }
  return bytes;
}

const fail = (reason: string): DecodeResult => ({ ok: false, reason });

/**
 * Decodes and validates one frame. Never throws: a hostile peer controls these bytes, and the
 * hot path should not pay for exceptions. Sequence checks (gaps, duplicates) belong to the
 * receiver, which knows the stream's history.
 */
export function decodeFrame(message: ArrayBuffer | Uint8Array): DecodeResult {
  const bytes = message instanceof Uint8Array ? message : new Uint8Array(message);
  if (bytes.byteLength < FRAME_HEADER_BYTES)
    return fail(`frame is ${bytes.byteLength} bytes, shorter than its ${FRAME_HEADER_BYTES}-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint8(0);
  if (version !== FRAME_VERSION) return fail(`unsupported frame version ${version}`);
  const type = view.getUint8(1);
  const width = BYTES_PER_VALUE[type];
  if (width === undefined) return fail(`unknown sample type ${type}`);
  const flags = view.getUint8(2);
  if ((flags & ~KNOWN_FLAGS) !== 0) return fail(`reserved flag bits set (0x${flags.toString(16)})`);
  const channels = view.getUint8(3);
  if (channels < 1 || channels > FRAME_MAX_CHANNELS) return fail(`channel count ${channels} outside 1–${FRAME_MAX_CHANNELS}`);
  const stream = view.getUint16(4, true);
  const count = view.getUint16(6, true);
  if (count < 1) return fail('sample count is 0');
  const timestamp = view.getFloat64(8, true);
  if (!Number.isFinite(timestamp) || timestamp < 0) return fail('timestamp is not a finite number ≥ 0');
  const seq = view.getUint32(16, true);
  const scale = view.getFloat32(20, true);
  const values = count * channels;
  const expected = FRAME_HEADER_BYTES + values * width;
  if (bytes.byteLength !== expected) {
    return fail(`frame is ${bytes.byteLength} bytes; ${count} samples × ${channels} channels need exactly ${expected}`);
  }

  let samples: Float32Array;
  if (type === SAMPLE_TYPE.float32) {
    if (scale !== 1) return fail('scale must be 1 for float32 frames');
    const offset = bytes.byteOffset + FRAME_HEADER_BYTES;
    if (LITTLE_ENDIAN && offset % 4 === 0) {
      samples = new Float32Array(bytes.buffer, offset, values);
    } else {
      samples = new Float32Array(values);
      for (let i = 0; i < values; i++) samples[i] = view.getFloat32(FRAME_HEADER_BYTES + i * 4, true);
    }
    for (let i = 0; i < values; i++) {
      const v = samples[i]!;
      // NaN and ±Infinity poison every feature computed from the window.
      if (v - v !== 0) return fail(`sample ${Math.floor(i / channels)} channel ${i % channels} is not finite`);
    }
  } else {
    if (!(Number.isFinite(scale) && scale > 0)) return fail('int16 frames need a finite scale > 0');
    samples = new Float32Array(values);
    for (let i = 0; i < values; i++) samples[i] = view.getInt16(FRAME_HEADER_BYTES + i * 2, true) * scale;
  }

  return {
    ok: true,
    frame: {
      stream,
      seq,
      timestamp,
      channels,
      count,
      sampleType: type === SAMPLE_TYPE.float32 ? 'float32' : 'int16',
      scale: type === SAMPLE_TYPE.float32 ? 1 : scale,
      ackRequested: (flags & FRAME_FLAGS.ackRequested) !== 0,
      values: samples,
    },
  };
}
