/**
 * Piscina worker that decodes large biometric uploads (CSV, JSON, frames; ≈ 25 ms per MB of CSV)
 * and, for verification, cuts and featurises their windows, so a 16 MB upload never holds the
 * gateway's event loop. Catalogued errors come back as values (a structured clone would lose
 * the VigilError class and its fields).
 */
import type { FeatureSpec } from '../protocol/biometrics.ts';
import { VigilError, type ErrorCode, type ErrorDetail, type ErrorParams } from '../protocol/errors.ts';
import type { BiometricData } from '../src/biometrics/samples.ts';
import { extractWindowsSliced } from '../src/biometrics/sliced-windows.ts';
import { decodeUpload, type DeclaredParams, type UploadFile } from '../src/biometrics/uploads/decode-upload.ts';

export interface UploadTask {
  file: UploadFile;
  source: 'body' | 'file' | 'untyped';
  declared: DeclaredParams;
  fallback: DeclaredParams;
  /** Verification: also featurise with the model's spec (at most maxWindows windows). */
  windows?: { spec: FeatureSpec; maxWindows: number } | undefined;
}

export type UploadResult =
  | {
      ok: true;
      data: BiometricData;
      features?: { data: Float32Array; n: number; d: number; starts: Int32Array } | undefined;
    }
  | { ok: false; error: { code: ErrorCode; params: ErrorParams; details: ErrorDetail[] | undefined } };

export default async function decode(task: UploadTask): Promise<UploadResult> {
  try {
    const data = decodeUpload(task.file, task.source, task.declared, task.fallback);
    if (!task.windows) return { ok: true, data };
    const { features, starts } = await extractWindowsSliced(data, task.windows.spec, task.windows.maxWindows);
    return { ok: true, data, features: { data: features.data, n: features.n, d: features.d, starts } };
  } catch (err) {
    if (err instanceof VigilError) return { ok: false, error: { code: err.code, params: err.params, details: err.details } };
    throw err;
  }
}
