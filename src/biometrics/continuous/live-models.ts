import type { Calibration } from '../../../protocol/biometrics.ts';
import { VigilError } from '../../../protocol/errors.ts';
import type { ReadyModel } from '../../../protocol/messages.ts';
import type { Logger } from '../../observability/logger.ts';
import type { ActiveModel } from '../biometric-service.ts';
import { batchModel, type BatchModel } from './window-batch.ts';

/** A model version as live streams use it: what the batcher ships, what trust needs, what `ready` says. */
export interface LiveModel extends BatchModel {
  readonly modelId: string;
  readonly version: number;
  readonly calibration: Calibration;
  readonly ready: ReadyModel;
}

/** What the registry needs from the biometric service. */
export interface ModelSource {
  /** The user's latest version; throws BIOMETRIC_MODEL_MISSING when there is none. */
  activeModel(userId: string): Promise<ActiveModel>;
}

/** Someone holding a user's model (a connection): told when it changes. */
export interface ModelHolder {
  readonly userId: string;
  useModel(model: LiveModel | null): void;
}

export function readyModelOf(model: Pick<ActiveModel, 'version' | 'spec'>): ReadyModel {
  const { spec } = model;
  return {
    version: model.version,
    modality: spec.modality,
    channels: [...spec.channels],
    rate: spec.rate,
    window: spec.window,
    hop: spec.hop,
  };
}

function live(active: ActiveModel): LiveModel {
  return {
    ...batchModel(active.scoring, active.spec),
    modelId: active.modelId,
    version: active.version,
    calibration: active.calibration,
    ready: readyModelOf(active),
  };
}

interface Entry {
  model: LiveModel | null;
  holders: Set<ModelHolder>;
  /** The load in progress; a refresh replaces it (the latest request wins). */
  loading: Promise<LiveModel | null> | undefined;
  generation: number;
  /** The next try of a reload that failed. */
  retry: NodeJS.Timeout | undefined;
}

/** Waits before trying a failed reload again; after the last, streams keep what they have until the next change. */
const RETRY_DELAYS_MS: readonly number[] = [1_000, 2_000, 5_000, 10_000, 30_000, 60_000];

/**
 * The current model of every user with a live socket on this process, loaded once per user and
 * shared by all their sockets and streams. When a new version becomes ready (or every version is
 * deleted) `refresh` reloads it and hands it to every holder: streams switch without reconnecting.
 */
export class LiveModels {
  private readonly entries = new Map<string, Entry>();
  /** Loads for users nobody here holds yet: sockets of one user authenticating together share one. */
  private readonly unheld = new Map<string, Promise<LiveModel | null>>();

  constructor(
    private readonly source: ModelSource,
    private readonly logger: Logger,
    private readonly onCountChange: (models: number) => void = () => {},
    private readonly retryDelaysMs: readonly number[] = RETRY_DELAYS_MS,
  ) {}

  /** The user's model for `ready` (no holder yet: the socket may never open). */
  async current(userId: string): Promise<LiveModel | null> {
    const entry = this.entries.get(userId);
    if (entry) return entry.loading ?? entry.model;
    let loading = this.unheld.get(userId);
    if (!loading) {
      loading = this.load(userId);
      this.unheld.set(userId, loading);
      const forget = () => {
        if (this.unheld.get(userId) === loading) this.unheld.delete(userId);
      };
      loading.then(forget, forget);
    }
    return loading;
  }

  /** Registers a holder (a ready connection); it is told about every later change. */
  hold(holder: ModelHolder, model: LiveModel | null): void {
    let entry = this.entries.get(holder.userId);
    if (!entry) {
      entry = { model, holders: new Set(), loading: undefined, generation: 0, retry: undefined };
      this.entries.set(holder.userId, entry);
      this.onCountChange(this.entries.size);
    }
    entry.holders.add(holder);
    // The holder may have loaded an older version than the one this process holds now.
    if (entry.model?.modelId !== model?.modelId && !entry.loading) holder.useModel(entry.model);
  }

  release(holder: ModelHolder): void {
    const entry = this.entries.get(holder.userId);
    if (!entry?.holders.delete(holder) || entry.holders.size > 0) return;
    clearTimeout(entry.retry);
    this.entries.delete(holder.userId);
    this.onCountChange(this.entries.size);
  }

  /**
   * The user's models changed somewhere (a version became ready): reload if anyone here holds it.
   * A reload that fails (MongoDB away) is tried again with backoff, so live streams do not keep
   * an outdated model until they reconnect; a later change supersedes the retry.
   */
  async refresh(userId: string, attempt = 0): Promise<void> {
    this.unheld.delete(userId);
    const entry = this.entries.get(userId);
    if (!entry) return;
    const generation = this.nextGeneration(entry);
    const loading = this.load(userId);
    entry.loading = loading;
    let model: LiveModel | null;
    try {
      model = await loading;
    } catch (err) {
      if (entry.generation !== generation) return;
      entry.loading = undefined;
      const delay = this.retryDelaysMs[attempt];
      this.logger.warn(
        { err, userId, retryInMs: delay },
        'could not reload the model of live streams; they keep the previous one until a retry succeeds',
      );
      if (delay === undefined || this.entries.get(userId) !== entry) return;
      entry.retry = setTimeout(() => void this.refresh(userId, attempt + 1), delay);
      entry.retry.unref();
      return;
    }
    if (entry.generation !== generation) return; // a later refresh is under way
    entry.loading = undefined;
    if (this.entries.get(userId) !== entry) return;
    this.use(entry, model);
  }

  /**
   * Every version of the user was deleted (DELETE /v1/biometrics/model, withdrawal): streams stop
   * scoring with them at once, with nothing to read first, so a MongoDB outage cannot keep a deleted
   * model live. Then the current state is read as after any change (a version trained since the
   * deletion, its event seen first, comes back).
   */
  async dropped(userId: string): Promise<void> {
    this.unheld.delete(userId);
    const entry = this.entries.get(userId);
    if (!entry) return;
    this.nextGeneration(entry);
    entry.loading = undefined;
    this.use(entry, null);
    await this.refresh(userId);
  }

  /** Stops pending retries (the gateway is closing). */
  close(): void {
    for (const entry of this.entries.values()) clearTimeout(entry.retry);
  }

  /** A new change of the user's models: whatever was loading or waiting to retry is superseded. */
  private nextGeneration(entry: Entry): number {
    clearTimeout(entry.retry);
    entry.retry = undefined;
    return ++entry.generation;
  }

  private use(entry: Entry, model: LiveModel | null): void {
    const changed = model?.modelId !== entry.model?.modelId;
    entry.model = model;
    if (changed) for (const holder of entry.holders) holder.useModel(model);
  }

  get size(): number {
    return this.entries.size;
  }

  private async load(userId: string): Promise<LiveModel | null> {
    try {
      return live(await this.source.activeModel(userId));
    } catch (err) {
      if (err instanceof VigilError && err.code === 'BIOMETRIC_MODEL_MISSING') return null;
      throw err;
    }
  }
}
