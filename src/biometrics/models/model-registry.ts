import type { Calibration, DetectorName, FeatureSpec } from '../../../protocol/biometrics.ts';
import { VigilError } from '../../../protocol/errors.ts';
import type { ModelView } from '../../../protocol/http/biometrics.ts';
import { scoringModel, type ScoringModel } from '../scoring-pool.ts';
import { SessionCache } from '../session-cache.ts';
import type { ModelMeta, ModelStore } from './model-store.ts';

/** The model a user is verified against, ready to score (the socket micro-batcher reads this). */
export interface ActiveModel {
  modelId: string;
  userId: string;
  version: number;
  detector: DetectorName;
  spec: FeatureSpec;
  threshold: number;
  calibration: Calibration;
  /** Pass to `pool.score(model.scoring, …)`; keyed by the immutable model id. */
  scoring: ScoringModel;
}

/**
 * Model versions as the rest of the gateway sees them: the latest one loaded for scoring (ONNX
 * sessions cached by immutable model id), and a version's metadata for the API.
 */
export class ModelRegistry {
  private readonly cache: SessionCache<ScoringModel>;

  constructor(
    private readonly models: ModelStore,
    /** ONNX models kept in memory for scoring, by model id. */
    cacheSize = 1024,
  ) {
    this.cache = new SessionCache<ScoringModel>(cacheSize, () => {});
  }

  /** The latest version, loaded for scoring; BIOMETRIC_MODEL_MISSING when the account has none. */
  async activeModel(userId: string): Promise<ActiveModel> {
    const meta = await this.models.latest(userId);
    if (!meta) throw new VigilError('BIOMETRIC_MODEL_MISSING');
    return this.loaded(meta);
  }

  private async loaded(meta: ModelMeta): Promise<ActiveModel> {
    const key = meta._id.toHexString();
    const scoring = await this.cache.get(key, async () => {
      const bytes = await this.models.onnx(meta._id);
      // Deleted between the two reads: the caller sees what a fresh read would.
      if (!bytes) throw new VigilError('BIOMETRIC_MODEL_MISSING');
      return scoringModel(key, bytes);
    });
    return {
      modelId: key,
      userId: meta.userId,
      version: meta.version,
      detector: meta.detector,
      spec: meta.featureSpec,
      threshold: meta.threshold,
      calibration: meta.calibration,
      scoring,
    };
  }

  /** Metadata of the latest (or a given) version, without the ONNX bytes. */
  async view(userId: string, version?: number): Promise<ModelView> {
    const { models } = this;
    const meta = version === undefined ? await models.latest(userId) : await models.version(userId, version);
    if (!meta) throw new VigilError('BIOMETRIC_MODEL_MISSING');
    const { _id, userId: _user, enrollmentId, createdAt, version: v, ...summary } = meta;
    return {
      version: v,
      versions: await models.versions(userId),
      enrollmentId: enrollmentId.toHexString(),
      createdAt: createdAt.toISOString(),
      ...summary,
    };
  }
}
