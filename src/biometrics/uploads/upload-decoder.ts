import { Piscina } from 'piscina';
import type { FeatureSpec } from '../../../protocol/biometrics.ts';
import { VigilError } from '../../../protocol/errors.ts';
import type { UploadResult, UploadTask } from '../../../workers/upload-worker.ts';
import type { WindowFeatures } from '../features/extract-windows.ts';
import { featureRowSet, sampleSet, type BiometricData } from '../samples.ts';
import { extractWindowsSliced } from '../sliced-windows.ts';
import { decodeUpload, type DeclaredParams, type UploadFile } from './decode-upload.ts';

export interface UploadDecoderOptions {
  /** Uploads up to this many bytes are decoded on the calling thread (≈ 6 ms of CSV). Default 256 KiB. */
  inlineBytes: number;
  /** Decoding threads for larger uploads, started on demand. Default 1. */
  threads: number;
  /** A decoding thread idle this long exits (uploads are occasional). Default 30 s. */
  idleTimeoutMs: number;
}

export const DEFAULT_UPLOAD_DECODER_OPTIONS: Readonly<UploadDecoderOptions> = Object.freeze({
  inlineBytes: 256 * 1024,
  threads: 1,
  idleTimeoutMs: 30_000,
});

function workerLocation(): { filename: string; execArgv: string[] | undefined } {
  const typescript = import.meta.url.endsWith('.ts');
  return {
    filename: new URL(`../../../workers/upload-worker.${typescript ? 'ts' : 'js'}`, import.meta.url).href,
    execArgv: typescript ? ['--import', 'tsx'] : undefined,
  };
}

/** A structured clone turns typed arrays back into plain objects' fields; rebuild the data shape. */
function revive(data: BiometricData): BiometricData {
  return data.kind === 'samples' ? sampleSet(data.rate, data.channels, data.data) : featureRowSet(data.channels, data.data);
}

/**
 * Decodes uploads (and featurises them for verification) without holding the event loop: small
 * ones inline, large ones in a worker thread (workers/upload-worker.ts) that starts on demand.
 */
export class UploadDecoder {
  readonly options: Readonly<UploadDecoderOptions>;
  private pool: Piscina<UploadTask, UploadResult> | undefined;

  constructor(options: Partial<UploadDecoderOptions> = {}) {
    const o = { ...DEFAULT_UPLOAD_DECODER_OPTIONS, ...options };
    for (const key of ['inlineBytes', 'threads', 'idleTimeoutMs'] as const) {
      if (!Number.isInteger(o[key]) || o[key] < (key === 'threads' ? 1 : 0)) {
        throw new TypeError(`options.${key} must be an integer >= ${key === 'threads' ? 1 : 0}, got ${String(o[key])}`);
      }
    }
    this.options = Object.freeze(o);
  }

  /** Whether an upload of this size goes to the worker thread. */
  offloads(file: UploadFile): boolean {
    return file.bytes.byteLength > this.options.inlineBytes;
  }

  async decode(
    file: UploadFile,
    source: UploadTask['source'],
    declared: DeclaredParams = {},
    fallback: DeclaredParams = {},
  ): Promise<BiometricData> {
    if (!this.offloads(file)) return decodeUpload(file, source, declared, fallback);
    return revive((await this.run({ file, source, declared, fallback })).data);
  }

  /** Decode, then windows and features with the model's spec (verification). */
  async decodeWindows(
    file: UploadFile,
    source: UploadTask['source'],
    declared: DeclaredParams,
    fallback: DeclaredParams,
    spec: FeatureSpec,
    maxWindows: number,
  ): Promise<WindowFeatures> {
    if (!this.offloads(file)) return extractWindowsSliced(decodeUpload(file, source, declared, fallback), spec, maxWindows);
    const result = await this.run({ file, source, declared, fallback, windows: { spec, maxWindows } });
    const f = result.features!;
    return { features: { data: f.data, n: f.n, d: f.d }, starts: f.starts };
  }

  private async run(task: UploadTask): Promise<Extract<UploadResult, { ok: true }>> {
    this.pool ??= this.createPool();
    const bytes = task.file.bytes;
    // Copy into a buffer of its own: the request's may be a view into a larger one.
    const own =
      bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && !(bytes.buffer instanceof SharedArrayBuffer)
        ? bytes
        : Uint8Array.from(bytes);
    const result = await this.pool.run(
      { ...task, file: { ...task.file, bytes: own } },
      { transferList: [own.buffer] as unknown as NonNullable<Parameters<Piscina['run']>[1]>['transferList'] },
    );
    if (!result.ok) throw new VigilError(result.error.code, result.error.params, { details: result.error.details });
    return result;
  }

  private createPool(): Piscina<UploadTask, UploadResult> {
    const { filename, execArgv } = workerLocation();
    const pool = new Piscina<UploadTask, UploadResult>({
      filename,
      ...(execArgv ? { execArgv } : {}),
      minThreads: 0,
      maxThreads: this.options.threads,
      idleTimeout: this.options.idleTimeoutMs,
    });
    pool.on('error', () => {});
    return pool;
  }

  async close(): Promise<void> {
    await this.pool?.destroy();
    this.pool = undefined;
  }
}
