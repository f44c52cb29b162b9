import busboy from 'busboy';
import { Readable } from 'node:stream';
import { VigilError } from '../../../protocol/errors.ts';
import type { HttpResponse } from '../uws.ts';

/** Thrown into the body promise when the client hangs up; the router drops it silently. */
export class ClientAborted extends Error {
  constructor() {
    super('client aborted the request');
    this.name = 'ClientAborted';
  }
}

/**
 * Collects the request body with a hard size limit. uWS hands out chunks that are only valid
 * during the callback, so each is copied. Rejects with BODY_TOO_LARGE as soon as the limit is
 * crossed (or up front from Content-Length), and with ClientAborted if the client disconnects.
 */
export function readBody(
  res: HttpResponse,
  declaredLength: number | undefined,
  limit: number,
  onAbort: (listener: () => void) => void,
): Promise<Buffer> {
  if (declaredLength !== undefined && declaredLength > limit) {
    return Promise.reject(new VigilError('BODY_TOO_LARGE', { limit }));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    onAbort(() => {
      if (!done) {
        done = true;
        reject(new ClientAborted());
      }
    });
    res.onData((chunk, isLast) => {
      if (done) return;
      size += chunk.byteLength;
      if (size > limit) {
        done = true;
        reject(new VigilError('BODY_TOO_LARGE', { limit }));
        return;
      }
      chunks.push(Buffer.from(chunk.slice(0)));
      if (isLast) {
        done = true;
        resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
      }
    });
  });
}

/** The media type without parameters, lower-cased ("application/json; charset=utf-8" → "application/json"). */
export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';', 1)[0]!.trim().toLowerCase();
}

/**
 * Deepest nesting a JSON body may have. Everything after the parser walks the value recursively
 * (schema defaults and conversion clone it, handlers, the BSON encoder), so a small body nested
 * thousands deep would overflow the stack there, as a 500, long before any size limit applies.
 */
export const MAX_JSON_DEPTH = 64;

/** Whether valid JSON text nests objects/arrays deeper than `max` (one pass, strings skipped). */
function nestedDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      // A backslash escapes the next character; a quote ends the string.
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

export function parseJson(bytes: Buffer): unknown {
  const text = bytes.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new VigilError('JSON_MALFORMED', { reason: (err as Error).message });
  }
  if (nestedDeeperThan(text, MAX_JSON_DEPTH)) {
    throw new VigilError('BODY_INVALID', { reason: `JSON nested deeper than ${MAX_JSON_DEPTH} levels` });
  }
  return value;
}

export interface UploadedFile {
  filename: string;
  contentType: string;
  bytes: Buffer;
}

export interface FormData {
  fields: Record<string, string>;
  files: Record<string, UploadedFile>;
}

/** Parses an application/x-www-form-urlencoded or multipart/form-data body already in memory. */
export async function parseForm(bytes: Buffer, contentType: string, limit: number): Promise<FormData> {
  const type = mediaType(contentType);
  if (type === 'application/x-www-form-urlencoded') {
    return { fields: Object.fromEntries(new URLSearchParams(bytes.toString('utf8'))), files: {} };
  }
  if (type !== 'multipart/form-data') {
    throw new VigilError('UNSUPPORTED_MEDIA_TYPE', {
      got: type || '(none)',
      expected: 'application/json, application/x-www-form-urlencoded or multipart/form-data',
    });
  }
  return new Promise((resolve, reject) => {
    const form: FormData = { fields: {}, files: {} };
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: { 'content-type': contentType },
        limits: { fileSize: limit, fields: 200, files: 10, parts: 210 },
      });
    } catch (err) {
      reject(new VigilError('BODY_INVALID', { reason: (err as Error).message }));
      return;
    }
    parser.on('field', (name, value) => {
      form.fields[name] = value;
    });
    parser.on('file', (name, stream, info) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('limit', () => reject(new VigilError('BODY_TOO_LARGE', { limit })));
      // A form that ends inside a file part errors the file stream too; unhandled, that error
      // would take the whole process down.
      stream.on('error', (err: Error) => reject(new VigilError('BODY_INVALID', { reason: `multipart: ${err.message}` })));
      stream.on('end', () => {
        form.files[name] = { filename: info.filename ?? name, contentType: info.mimeType, bytes: Buffer.concat(chunks) };
      });
    });
    parser.on('error', (err: Error) => reject(new VigilError('BODY_INVALID', { reason: `multipart: ${err.message}` })));
    parser.on('close', () => resolve(form));
    Readable.from([bytes]).pipe(parser);
  });
}
