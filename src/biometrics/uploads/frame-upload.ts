import { FRAME_HEADER_BYTES, FRAME_MAX_SEQ, decodeFrame, frameLength, type SampleFrame } from '../../../protocol/frames.ts';
import { DEFAULT_INGEST_LIMITS, type IngestLimits } from '../ingest/ingest-options.ts';
import { invalid, tooMany } from '../ingest/problems.ts';
import { checkRate } from '../ingest/sample-rate.ts';
import { checkMinRows } from '../ingest/too-few.ts';
import { sampleSet, type SampleSet } from '../samples.ts';

export interface FrameUploadOptions {
  /** Declared rate, Hz; otherwise inferred from the frames' timestamps, else `fallbackRate`. */
  rate?: number | undefined;
  fallbackRate?: number | undefined;
  /** Channel names (frames carry only a count); default c0, c1, … */
  channels?: readonly string[] | undefined;
  limits?: Partial<IngestLimits> | undefined;
}

/** Disagreement tolerated between a declared rate and the one the timestamps imply (as for CSV). */
const RATE_TOLERANCE = 0.1;
const SAMPLE_TYPES: Record<number, number> = { 1: 4, 2: 2 };

/** Splits a body of concatenated frames, validating each with the socket protocol's decoder. */
function* frames(bytes: Uint8Array): Generator<{ frame: SampleFrame; offset: number; index: number }> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  for (let index = 0; offset < bytes.byteLength; index++) {
    const at = `frame ${index} (byte ${offset})`;
    if (bytes.byteLength - offset < FRAME_HEADER_BYTES) {
      throw invalid(
        `/frames/${index}`,
        `${at}: ${bytes.byteLength - offset} bytes left, shorter than a ${FRAME_HEADER_BYTES}-byte header`,
      );
    }
    const width = SAMPLE_TYPES[view.getUint8(offset + 1)];
    const channels = view.getUint8(offset + 3);
    const count = view.getUint16(offset + 6, true);
    // The declared dimensions say where the next frame starts; decodeFrame checks the rest.
    const length = width && channels > 0 ? frameLength(count, channels, width === 4 ? 'float32' : 'int16') : FRAME_HEADER_BYTES;
    const end = Math.min(bytes.byteLength, offset + length);
    const decoded = decodeFrame(bytes.subarray(offset, end));
    if (!decoded.ok) throw invalid(`/frames/${index}`, `${at}: ${decoded.reason}`);
    yield { frame: decoded.frame, offset, index };
    offset = end;
  }
}

/**
 * Binary sample frames of the socket protocol (protocol/frames.ts), concatenated in one body:
 * one stream, consecutive sequence numbers, one channel count. The rate is declared, or
 * inferred from the timestamps (first sample of each frame, ms).
 */
export function parseFrameUpload(bytes: Uint8Array, options: FrameUploadOptions = {}): SampleSet {
  const limits: IngestLimits = { ...DEFAULT_INGEST_LIMITS, ...options.limits };
  if (bytes.byteLength === 0) throw invalid('body', 'the body holds no frames');
  const chunks: Float32Array[] = [];
  let first: SampleFrame | undefined;
  let last: SampleFrame | undefined;
  let rows = 0;
  let rowsBeforeLast = 0;
  for (const { frame, index } of frames(bytes)) {
    if (!first) {
      first = frame;
    } else {
      const expected = ((last as SampleFrame).seq + 1) % (FRAME_MAX_SEQ + 1);
      if (frame.stream !== first.stream) {
        throw invalid(
          `/frames/${index}`,
          `frame ${index} belongs to stream ${frame.stream}; the upload started with stream ${first.stream}`,
        );
      }
      if (frame.channels !== first.channels) {
        throw invalid(`/frames/${index}`, `frame ${index} has ${frame.channels} channels; frame 0 has ${first.channels}`);
      }
      if (frame.seq !== expected) {
        throw invalid(
          `/frames/${index}`,
          `frame ${index} has sequence ${frame.seq}, expected ${expected}: frames must be consecutive`,
        );
      }
    }
    rowsBeforeLast = rows;
    rows += frame.count;
    if (rows > limits.maxRows) throw tooMany('samples', rows, limits.maxRows, `/frames/${index}`);
    if (rows * frame.channels > limits.maxCells)
      throw tooMany('cells', rows * frame.channels, limits.maxCells, `/frames/${index}`);
    // Float32 frames may be views into the body: copy (the body buffer is not ours to keep).
    chunks.push(Float32Array.from(frame.values));
    last = frame;
  }
  const head = first as SampleFrame;
  const tail = last as SampleFrame;
  if (head.channels > limits.maxChannels) throw tooMany('channels', head.channels, limits.maxChannels, '/frames/0');

  const channels = options.channels ?? Array.from({ length: head.channels }, (_, i) => `c${i}`);
  if (channels.length !== head.channels) {
    throw invalid('query.channels', `channels names ${channels.length} channels; the frames carry ${head.channels}`);
  }

  // Timestamps of the first and last frame span rowsBeforeLast samples.
  const implied =
    rowsBeforeLast > 0 && tail.timestamp > head.timestamp
      ? (1000 * rowsBeforeLast) / (tail.timestamp - head.timestamp)
      : undefined;
  let rate: number;
  if (options.rate !== undefined) {
    rate = checkRate(options.rate, limits, 'query.rate');
    if (implied !== undefined && Math.abs(implied - rate) > RATE_TOLERANCE * rate) {
      throw invalid('query.rate', `rate is ${rate} Hz but the frame timestamps imply ${implied.toFixed(2)} Hz`);
    }
  } else if (implied !== undefined) {
    rate = checkRate(Math.round(implied * 1000) / 1000, limits, '/frames');
  } else if (options.fallbackRate !== undefined) {
    rate = checkRate(options.fallbackRate, limits, 'query.rate');
  } else {
    throw invalid('query.rate', 'rate is required (or at least two frames with increasing timestamps to infer it from)');
  }
  checkMinRows(rows, 1, 'samples');

  const data = new Float32Array(rows * head.channels);
  let offset = 0;
  for (const chunk of chunks) {
    data.set(chunk, offset);
    offset += chunk.length;
  }
  return sampleSet(rate, channels, data);
}
