import { VigilError } from '../../../protocol/errors.ts';
import { FeatureExtractor } from '../features/feature-extractor.ts';
import type { ScoreOptions } from '../scoring-pool.ts';
import type { ContinuousMetrics } from './continuous-metrics.ts';
import { rowWidth, type BatchModel, type BatchRows, type WindowBatchResult, type WindowBatchTask } from './window-batch.ts';
import { WindowSlab, type WindowSink } from './window-slab.ts';

/** What the batcher needs from the scoring pool (ScoringPool implements it). */
export interface WindowScorer {
  scoreWindowBatch(task: WindowBatchTask, options?: ScoreOptions): Promise<WindowBatchResult>;
}

export interface WindowBatcherOptions {
  /** Windows per scoring task; a full batch is sent at once. VIGIL_CV_BATCH_SIZE, default 64. */
  batchSize: number;
  /** Longest a window waits for its batch to fill, ms. VIGIL_CV_BATCH_DEADLINE_MS, default 5. */
  deadlineMs: number;
  /**
   * Windows waiting for or in scoring, at most; beyond, new windows are dropped and reported
   * (SCORING_OVERLOADED) instead of queueing unbounded latency. VIGIL_CV_MAX_PENDING_WINDOWS, default 1024
   * (16 full batches: at 8,000 windows/s about 130 ms of backlog). A deeper queue only turns an
   * overload into seconds of latency, then into scoring timeouts whose killed workers must
   * restart and reload their sessions — a spiral measured at 8,000 devices.
   */
  maxPendingWindows: number;
  /** Where features are computed: `worker` (rows are raw windows) or `main`. VIGIL_CV_FEATURES, default worker. */
  rows: BatchRows;
}

export const DEFAULT_BATCHER_OPTIONS: Readonly<WindowBatcherOptions> = Object.freeze({
  batchSize: 64,
  deadlineMs: 5,
  maxPendingWindows: 1024,
  rows: 'samples',
});

/** Floats reserved per row when a slab is created (a 2.5 s window of 3 axes at 50 Hz is 375). */
const FLOATS_PER_ROW = 512;

export function resolveBatcherOptions(options: Partial<WindowBatcherOptions> = {}): WindowBatcherOptions {
  const o = { ...DEFAULT_BATCHER_OPTIONS, ...options };
  const integer = (name: 'batchSize' | 'maxPendingWindows', min: number) => {
    if (!Number.isInteger(o[name]) || o[name] < min)
      throw new TypeError(`options.${name} must be an integer >= ${min}, got ${String(o[name])}`);
  };
  integer('batchSize', 1);
  integer('maxPendingWindows', 1);
  if (!(Number.isFinite(o.deadlineMs) && o.deadlineMs >= 0)) {
    throw new TypeError(`options.deadlineMs must be a number >= 0, got ${String(o.deadlineMs)}`);
  }
  if (o.maxPendingWindows < o.batchSize) {
    throw new TypeError(
      `options.maxPendingWindows must be at least options.batchSize (${o.batchSize}), got ${o.maxPendingWindows}`,
    );
  }
  if (o.rows !== 'samples' && o.rows !== 'features')
    throw new TypeError(`options.rows must be samples or features, got ${String(o.rows)}`);
  return o;
}

/**
 * The global micro-batcher: windows from every stream of the process join one batch, which goes
 * to the scoring pool as one task when it holds `batchSize` windows or its first window has
 * waited `deadlineMs`. Batches are slabs of shared memory recycled after their scores are
 * routed back, so a window costs a copy into the slab and nothing else on the event loop
 * (with `rows: 'features'`, its features are computed here instead).
 */
export class WindowBatcher {
  readonly options: WindowBatcherOptions;
  private readonly free: WindowSlab[] = [];
  /** Batches sent and not yet routed back, oldest first: results are delivered in this order. */
  private readonly inFlight: WindowSlab[] = [];
  private current: WindowSlab | undefined;
  private slabs = 0;
  private readonly maxSlabs: number;
  private timer: NodeJS.Timeout | undefined;
  private serial = 0;
  private pendingWindows = 0;
  private readonly extractors = new Map<string, FeatureExtractor>();
  private closed = false;

  constructor(
    private readonly scorer: WindowScorer,
    options: Partial<WindowBatcherOptions>,
    private readonly metrics: ContinuousMetrics,
  ) {
    this.options = resolveBatcherOptions(options);
    this.maxSlabs = Math.ceil(this.options.maxPendingWindows / this.options.batchSize);
  }

  /** Windows accepted and not yet routed back. */
  get pending(): number {
    return this.pendingWindows;
  }

  /**
   * Adds the window of `model.spec.windowSamples` samples starting at sample `start` of `ring`
   * (interleaved, `ringSamples` samples long, indices wrap). Returns false when the window was
   * dropped because too many are pending (the sink has been told).
   */
  add(
    sink: WindowSink,
    model: BatchModel,
    ring: Float32Array,
    start: number,
    ringSamples: number,
    window: number,
    arrivedAt: number,
  ): boolean {
    if (this.closed) {
      sink.failed(window, new VigilError('SCORING_FAILED', { reason: 'the gateway is shutting down' }), model);
      return false;
    }
    const { rows } = this.options;
    const width = rowWidth(model, rows);
    const c = model.spec.channels.length;
    const align = rows === 'samples' ? c : 1;
    let slab = this.current;
    if (slab && !slab.fits(width, align)) {
      this.flush('full');
      slab = undefined;
    }
    if (!slab) {
      slab = this.takeSlab();
      if (!slab) {
        this.metrics.windowsDropped.inc({ reason: 'overloaded' });
        sink.failed(window, new VigilError('SCORING_OVERLOADED', {}), model);
        return false;
      }
      slab.ensure(width);
      this.current = slab;
      if (this.serial === Number.MAX_SAFE_INTEGER) this.serial = 0;
      this.serial++;
    }
    const offset = slab.claim(sink, model, window, arrivedAt, width, align, this.serial);
    this.pendingWindows++;
    if (rows === 'samples') {
      copyWindow(ring, start, ringSamples, c, model.spec.windowSamples, slab.values, offset);
    } else {
      this.extractor(model).extract(ring, start, slab.values, offset, ringSamples);
    }
    if (slab.full) this.flush('full');
    else if (slab.n === 1 && !this.timer) this.timer = setTimeout(() => this.flush('deadline'), this.options.deadlineMs);
    return true;
  }

  /** Sends what is waiting now (shutdown, tests). */
  flushNow(): void {
    this.flush('deadline');
  }

  /** Stops accepting windows and sends the partial batch; in-flight batches still complete. */
  close(): void {
    this.flush('deadline');
    this.closed = true;
  }

  private takeSlab(): WindowSlab | undefined {
    const reused = this.free.pop();
    if (reused) return reused;
    if (this.slabs >= this.maxSlabs) return undefined;
    this.slabs++;
    return new WindowSlab(this.options.batchSize, this.options.batchSize * FLOATS_PER_ROW, this.options.rows);
  }

  private extractor(model: BatchModel): FeatureExtractor {
    const key = model.ref.specKey;
    let extractor = this.extractors.get(key);
    if (!extractor) {
      extractor = new FeatureExtractor(model.spec);
      if (this.extractors.size >= 64) this.extractors.delete(this.extractors.keys().next().value as string);
      this.extractors.set(key, extractor);
    }
    return extractor;
  }

  private flush(reason: 'full' | 'deadline'): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const slab = this.current;
    if (!slab || slab.n === 0) return;
    this.current = undefined;
    const { metrics } = this;
    metrics.batches.inc({ reason });
    metrics.batchWindows.observe(slab.n);
    metrics.batchStreams.observe(slab.distinctSinks);
    metrics.batchModels.observe(slab.models.length);
    const started = performance.now();
    this.inFlight.push(slab);
    this.scorer.scoreWindowBatch(slab.seal()).then(
      (result) => {
        metrics.batchSeconds.observe((performance.now() - started) / 1000);
        slab.outcome = result;
        this.settle();
      },
      (err: unknown) => {
        metrics.batchSeconds.observe((performance.now() - started) / 1000);
        slab.outcome =
          err instanceof VigilError ? err : new VigilError('SCORING_FAILED', { reason: (err as Error).message }, { cause: err });
        this.settle();
      },
    );
  }

  /**
   * Routes back every finished batch at the head of the queue. Batches finish out of order (two
   * workers, a retried crash); delivering in sending order keeps each stream's windows in order
   * at the cost of a later batch waiting for an earlier, slower one.
   */
  private settle(): void {
    while (this.inFlight.length > 0 && this.inFlight[0]!.outcome !== undefined) {
      const slab = this.inFlight.shift()!;
      const outcome = slab.outcome!;
      if (outcome instanceof VigilError) this.fail(slab, outcome);
      else this.deliver(slab, outcome);
    }
  }

  private deliver(slab: WindowSlab, result: WindowBatchResult): void {
    const failed = result.failures.length > 0 ? new Map(result.failures.map((f) => [f.model, f.error])) : undefined;
    let scored = 0;
    for (let i = 0; i < slab.n; i++) {
      const sink = slab.sinks[i]!;
      const modelIndex = slab.rowModel[i]!;
      const model = slab.models[modelIndex]!;
      const error = failed?.get(modelIndex);
      try {
        if (error !== undefined) sink.failed(slab.windows[i]!, new VigilError('SCORING_FAILED', { reason: error }), model);
        else {
          sink.scored(slab.windows[i]!, slab.scores[i]!, slab.arrived[i]!, model);
          scored++;
        }
      } catch {
        // A sink that throws (its socket went away mid-send) must not cost the other rows their verdicts.
      }
    }
    this.metrics.windows.inc({ outcome: 'scored' }, scored);
    if (result.novel) this.metrics.windowsNovel.inc(result.novel);
    if (scored < slab.n) this.metrics.windows.inc({ outcome: 'failed' }, slab.n - scored);
    this.recycle(slab);
  }

  private fail(slab: WindowSlab, error: VigilError): void {
    for (let i = 0; i < slab.n; i++) {
      try {
        slab.sinks[i]!.failed(slab.windows[i]!, error, slab.models[slab.rowModel[i]!]!);
      } catch {
        // as in deliver()
      }
    }
    this.metrics.windows.inc({ outcome: 'failed' }, slab.n);
    if (error.code !== 'SCORING_TIMEOUT') {
      this.recycle(slab);
      return;
    }
    // A thread retiring from onnxruntime may still write into this slab: never reuse it.
    this.pendingWindows -= slab.n;
    this.slabs--;
  }

  private recycle(slab: WindowSlab): void {
    this.pendingWindows -= slab.n;
    slab.reset();
    this.free.push(slab);
  }
}

/** Copies one window out of a ring of interleaved samples (wrapping) without allocating. */
function copyWindow(
  ring: Float32Array,
  start: number,
  ringSamples: number,
  c: number,
  samples: number,
  out: Float32Array,
  offset: number,
): void {
  let from = (start % ringSamples) * c;
  const end = ringSamples * c;
  const count = samples * c;
  for (let k = 0; k < count; k++) {
    out[offset + k] = ring[from]!;
    if (++from === end) from = 0;
  }
}
