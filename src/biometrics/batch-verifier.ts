import type { VerificationResult } from '../../protocol/biometrics.ts';
import { enforceLimit } from '../rate-limits/enforce-limit.ts';
import type { RateLimiter } from '../rate-limits/rate-limiter.ts';
import type { WindowFeatures } from './features/extract-windows.ts';
import type { ActiveModel, ModelRegistry } from './models/model-registry.ts';
import type { BiometricData } from './samples.ts';
import type { ScoringPool } from './scoring-pool.ts';
import { extractWindowsSliced } from './sliced-windows.ts';
import type { DeclaredParams, UploadFile } from './uploads/decode-upload.ts';
import type { UploadDecoder } from './uploads/upload-decoder.ts';
import { summariseVerification } from './verification.ts';

export interface BatchVerifierOptions {
  verifyPerMinute: number;
  /** Windows verified per account per hour (VIGIL_BIOMETRIC_VERIFY_WINDOWS_PER_HOUR). */
  verifyWindowsPerHour: number;
  maxVerifyWindows: number;
}

/**
 * Batch verification (check_user): the data's windows, featurised with the model's own spec,
 * scored in the Piscina pool, summarised. The same data and model give the same answer. The
 * account's own requests are limited per minute and in windows per hour; an operator's
 * evaluation (`operator`) is not counted against the account.
 */
export class BatchVerifier {
  constructor(
    private readonly deps: {
      registry: Pick<ModelRegistry, 'activeModel'>;
      pool: () => ScoringPool;
      decoder: UploadDecoder;
      rateLimiter: RateLimiter;
      options: BatchVerifierOptions;
    },
  ) {}

  async verify(userId: string, data: BiometricData): Promise<VerificationResult> {
    await this.limitRequests(userId);
    const active = await this.deps.registry.activeModel(userId);
    const windows = await extractWindowsSliced(data, active.spec, this.deps.options.maxVerifyWindows);
    await this.limitWindows(userId, windows.features.n);
    return this.score(active, windows);
  }

  /** Verification of an upload; kind, rate and frame channel names default to the model's. */
  async verifyUpload(
    userId: string,
    file: UploadFile,
    source: 'body' | 'file' | 'untyped',
    params: DeclaredParams = {},
    options: { operator?: boolean } = {},
  ): Promise<VerificationResult> {
    if (!options.operator) await this.limitRequests(userId);
    const model = await this.deps.registry.activeModel(userId);
    const { spec } = model;
    const fallback = { kind: spec.kind, ...(spec.kind === 'samples' ? { rate: spec.rate } : {}), channels: spec.channels };
    const windows = await this.deps.decoder.decodeWindows(
      file,
      source,
      params,
      fallback,
      spec,
      this.deps.options.maxVerifyWindows,
    );
    if (!options.operator) await this.limitWindows(userId, windows.features.n);
    return this.score(model, windows);
  }

  private async score(active: ActiveModel, { features, starts }: WindowFeatures): Promise<VerificationResult> {
    const scores = await this.deps.pool().score(active.scoring, features.data, features.n, features.d);
    return summariseVerification(scores, starts, active.threshold, active.version);
  }

  private limitRequests(userId: string): Promise<void> {
    return enforceLimit(this.deps.rateLimiter, `bio:verify:${userId}`, {
      limit: this.deps.options.verifyPerMinute,
      windowSeconds: 60,
    });
  }

  /** Windows per hour: bounds what even the counts-only answer can teach about the model. */
  private limitWindows(userId: string, windows: number): Promise<void> {
    return enforceLimit(
      this.deps.rateLimiter,
      `bio:verify-windows:${userId}`,
      { limit: this.deps.options.verifyWindowsPerHour, windowSeconds: 3600 },
      windows,
    );
  }
}
