import type { DataKind } from '../../../protocol/biometrics.ts';
import { VigilError } from '../../../protocol/errors.ts';
import { FRAME_HEADER_BYTES, FRAME_VERSION } from '../../../protocol/frames.ts';
import { parseFeatureRowsCsv, parseJsonUpload, parseSampleCsv } from '../ingest/index.ts';
import type { IngestLimits } from '../ingest/ingest-options.ts';
import { parseCell } from '../ingest/numeric-cell.ts';
import { invalid } from '../ingest/problems.ts';
import type { BiometricData } from '../samples.ts';
import { parseFrameUpload } from './frame-upload.ts';

/** An uploaded body or file: bytes plus what the client said they are. */
export interface UploadFile {
  bytes: Uint8Array;
  contentType: string;
  /** Multipart file name, when there was one (its extension helps tell the format). */
  filename?: string | undefined;
}

export type UploadFormat = 'csv' | 'json' | 'frames';

/** What the client declared (query or form fields). Each must agree with the data. */
export interface DeclaredParams {
  kind?: DataKind | undefined;
  rate?: number | undefined;
  /** Channel names for binary frames (and headerless legacy CSV). */
  channels?: readonly string[] | undefined;
}

/**
 * Used only where neither the client nor the data says: at verification the model's kind, rate
 * and channel names; for legacy files the deployment's default rate.
 */
export type Fallbacks = DeclaredParams;

export interface DecodeOptions {
  /**
   * Legacy files (dialect A), whose format no document fixes: the format is sniffed whatever the
   * content type says, and a CSV whose first line is all numbers has no header (columns are
   * named by `fallback.channels` when the count matches, else c1…cN).
   */
  lenient?: boolean;
  limits?: Partial<IngestLimits> | undefined;
}

export const UPLOAD_MEDIA_TYPES = [
  'text/csv',
  'text/plain',
  'application/json',
  'application/octet-stream',
  'multipart/form-data',
] as const;

function mediaTypeOf(contentType: string): string {
  return (contentType.split(';', 1)[0] ?? '').trim().toLowerCase();
}

function extension(filename: string | undefined): string {
  const match = /\.([A-Za-z0-9]+)$/.exec(filename ?? '');
  return match ? (match[1] as string).toLowerCase() : '';
}

function firstVisibleByte(bytes: Uint8Array): number | undefined {
  for (let i = 0; i < Math.min(bytes.byteLength, 1024); i++) {
    const b = bytes[i] as number;
    // Skip whitespace and a UTF-8 byte-order mark.
    if (b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0xef && b !== 0xbb && b !== 0xbf) return b;
  }
  return undefined;
}

/** Looks at the first bytes: a frame header, a JSON object, or else text taken as CSV. */
export function sniffFormat(bytes: Uint8Array): UploadFormat {
  if (bytes.byteLength >= FRAME_HEADER_BYTES && bytes[0] === FRAME_VERSION && (bytes[1] === 1 || bytes[1] === 2)) return 'frames';
  const first = firstVisibleByte(bytes);
  return first === 0x7b /* { */ ? 'json' : 'csv';
}

/**
 * Which parser reads a file. A raw body is what its Content-Type says (octet-stream = frames);
 * a multipart file's generic type (octet-stream, which browsers send for untyped blobs) is
 * resolved by extension, then by sniffing; untyped files (a client that never states a type) are always sniffed, and may be headerless CSV.
 */
export function uploadFormat(file: UploadFile, source: 'body' | 'file' | 'untyped'): UploadFormat {
  if (source === 'untyped') return sniffFormat(file.bytes);
  const type = mediaTypeOf(file.contentType);
  if (type === 'text/csv' || type === 'text/plain' || type === 'application/csv') return 'csv';
  if (type === 'application/json' || type.endsWith('+json')) return 'json';
  if (source === 'body' && type === 'application/octet-stream') return 'frames';
  if (source === 'file' && (type === 'application/octet-stream' || type === '')) {
    const ext = extension(file.filename);
    if (ext === 'csv' || ext === 'txt') return 'csv';
    if (ext === 'json') return 'json';
    if (ext === 'bin' || ext === 'frames') return 'frames';
    return sniffFormat(file.bytes);
  }
  throw new VigilError('UNSUPPORTED_MEDIA_TYPE', {
    got: type || '(none)',
    expected: source === 'file' ? 'a text/csv, application/json or application/octet-stream file' : UPLOAD_MEDIA_TYPES.join(', '),
  });
}

function parseJsonBytes(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new VigilError('JSON_MALFORMED', { reason: (err as Error).message });
  }
}

function firstLine(bytes: Uint8Array): string {
  const end = bytes.indexOf(0x0a);
  return new TextDecoder()
    .decode(bytes.subarray(0, end < 0 ? Math.min(bytes.byteLength, 65_536) : end))
    .replace(/^\uFEFF/, '')
    .replace(/\r$/, '');
}

const unquoted = (cell: string) =>
  cell
    .trim()
    .replace(/^"(.*)"$/, '$1')
    .trim();

/** True when every cell of the first line is a number: a legacy CSV without a header. */
function isHeaderless(line: string): boolean {
  const cells = line.split(',');
  return line.trim() !== '' && cells.every((cell) => typeof parseCell(unquoted(cell)) === 'number');
}

/** Renumbers "line N" in CSV problems after a header was synthesised in front of the file. */
function shiftLines(err: unknown): unknown {
  if (!(err instanceof VigilError)) return err;
  const fix = (text: string) => text.replace(/\bline (\d+)/g, (_, n: string) => `line ${Number(n) - 1}`);
  const details = err.details?.map((d) => ({ field: d.field, message: fix(d.message) }));
  return new VigilError(
    err.code,
    { ...err.params, ...(typeof err.params.reason === 'string' ? { reason: fix(err.params.reason) } : {}) },
    { details },
  );
}

function noChannelsFor(format: string): VigilError {
  return invalid('query.channels', `channels names the channels of binary frames; a ${format} upload names its own`);
}

/**
 * Decodes one upload into samples or feature rows: CSV (header naming channels, optional t in
 * ms), JSON ({rate, channels, samples} or {kind: "features", columns, rows}), or concatenated
 * binary frames. Every problem is a catalogued 4xx naming the row, column or frame.
 */
export function decodeUpload(
  file: UploadFile,
  source: 'body' | 'file' | 'untyped',
  declared: DeclaredParams = {},
  fallback: Fallbacks = {},
  options: DecodeOptions = {},
): BiometricData {
  const format = uploadFormat(file, source);
  const { limits } = options;
  const lenient = source === 'untyped';
  if (format === 'frames') {
    if (declared.kind === 'features') throw invalid('query.kind', 'binary frames carry samples, not feature rows');
    const channels = declared.channels ?? fallback.channels;
    return parseFrameUpload(file.bytes, {
      rate: declared.rate,
      fallbackRate: fallback.rate,
      // A fallback (the model's names) applies only when the count matches; the parser checks declared names.
      channels: declared.channels ?? (channels && countChannels(file.bytes) === channels.length ? channels : undefined),
      limits,
    });
  }
  if (declared.channels && !lenient) throw noChannelsFor(format === 'csv' ? 'CSV' : 'JSON');
  if (format === 'json') {
    const body = parseJsonBytes(file.bytes);
    const record =
      typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
    const kind = declared.kind ?? (record?.kind as DataKind | undefined) ?? fallback.kind;
    // Only a rate-less sample set takes the fallback rate; a stated rate must stand on its own.
    const withRate =
      record && kind !== 'features' && record.rate === undefined && fallback.rate !== undefined
        ? { ...record, rate: fallback.rate }
        : body;
    return parseJsonUpload(withRate, { kind, rate: declared.rate, limits });
  }

  const kind = declared.kind ?? fallback.kind ?? 'samples';
  const line = firstLine(file.bytes);
  if (lenient && isHeaderless(line)) {
    const width = line.split(',').length;
    const names =
      declared.channels ??
      (fallback.channels?.length === width ? fallback.channels : Array.from({ length: width }, (_, i) => `c${i + 1}`));
    if (names.length !== width) throw invalid('channels', `channels names ${names.length} columns; the file has ${width}`);
    const text = `${names.join(',')}\n${new TextDecoder().decode(file.bytes)}`;
    try {
      return kind === 'features'
        ? parseFeatureRowsCsv(text, { limits })
        : parseSampleCsv(text, { rate: declared.rate ?? fallback.rate, limits });
    } catch (err) {
      throw shiftLines(err);
    }
  }
  if (kind === 'features') return parseFeatureRowsCsv(file.bytes, { limits });
  // The fallback rate applies only without a t column (which states the rate itself).
  const hasTime = line.split(',').some((cell) => unquoted(cell) === 't');
  return parseSampleCsv(file.bytes, { rate: declared.rate ?? (hasTime ? undefined : fallback.rate), limits });
}

function countChannels(bytes: Uint8Array): number {
  return bytes.byteLength >= 4 ? (bytes[3] as number) : 0;
}
