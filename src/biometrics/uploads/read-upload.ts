import type { TObject } from '@sinclair/typebox';
import { VigilError } from '../../../protocol/errors.ts';
import { mediaType, parseForm } from '../../server/http/body.ts';
import { compileValidator, validationError, type Validator } from '../../server/http/validation.ts';
import type { UploadFile } from './decode-upload.ts';

export interface ReadUpload<P> {
  file: UploadFile;
  /** 'body' for a raw upload, 'file' for a multipart file part. */
  source: 'body' | 'file';
  /** Query parameters, or form fields next to a multipart file. */
  params: P;
}

/** Multipart field names taken as the upload, in order of preference (A's clients send `data`). */
const FILE_FIELDS = ['file', 'data'];

/** Compiles the form-field check of an upload route once (fields arrive as strings). */
export function uploadFields<P>(schema: TObject): Validator<P> {
  return compileValidator<P>(schema, 'body', true);
}

/**
 * The upload of a raw-body route: the body itself, or the file part of a multipart form whose
 * other fields are the parameters (checked against the same schema as the query; a parameter
 * may come from one place only).
 */
export async function readUpload<P extends object>(
  raw: { bytes: Buffer; contentType: string } | undefined,
  query: P,
  fields: Validator<P>,
  limit: number,
): Promise<ReadUpload<P>> {
  if (!raw || raw.bytes.byteLength === 0) throw new VigilError('BODY_INVALID', { reason: 'the upload is empty' });
  if (mediaType(raw.contentType) !== 'multipart/form-data') {
    return { file: { bytes: raw.bytes, contentType: raw.contentType }, source: 'body', params: query };
  }
  const form = await parseForm(raw.bytes, raw.contentType, limit);
  const names = Object.keys(form.files);
  const name = FILE_FIELDS.find((n) => n in form.files) ?? (names.length === 1 ? names[0] : undefined);
  if (name === undefined) {
    throw new VigilError('BODY_INVALID', {
      reason:
        names.length === 0
          ? 'the multipart form has no file part (name it "file")'
          : `several files (${names.join(', ')}); name the upload "file"`,
    });
  }
  const twice = Object.keys(form.fields).filter((key) => key in query);
  if (twice.length > 0) {
    throw validationError(twice.map((key) => ({ field: key, message: 'given both as a query parameter and as a form field' })));
  }
  const params = fields.parse({ ...stringsOf(query), ...form.fields });
  const file = form.files[name]!;
  return { file: { bytes: file.bytes, contentType: file.contentType, filename: file.filename }, source: 'file', params };
}

/** Query values back to strings, so query and form fields are coerced the same way. */
function stringsOf(query: object): Record<string, string> {
  return Object.fromEntries(Object.entries(query).map(([k, v]) => [k, String(v)]));
}
