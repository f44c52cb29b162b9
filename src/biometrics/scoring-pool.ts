import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { VigilError } from '../../protocol/errors.ts';
import type { ScoringResult, ScoringTask, ScoringWorkerData } from '../../workers/scoring-worker.ts';
import type { WindowBatchResult, WindowBatchTask } from './continuous/window-batch.ts';

/** One model version as the pool ships it to workers: bytes in shared memory, copied once. */
export interface ScoringModel {
  /** Must identify immutable bytes: a new model version needs a new key. */
  readonly key: string;
  readonly bytes: SharedArrayBuffer;
}

export function scoringModel(key: string, onnx: Uint8Array): ScoringModel {
  if (key.length === 0) throw new TypeError('model key must not be empty');
  const bytes = new SharedArrayBuffer(onnx.byteLength);
  new Uint8Array(bytes).set(onnx);
  return { key, bytes };
}

export interface ScoringPoolOptions {
  /** Worker threads, each running onnxruntime with one intra-op thread. Default os.availableParallelism(). */
  threads: number;
  /** InferenceSessions each worker keeps (least recently used are released). Default 64. */
  maxSessionsPerWorker: number;
  /** Most windows per task; larger score() calls are split into concurrent tasks. Default 64. */
  maxBatch: number;
  /**
   * Tasks allowed to wait for a worker; a task beyond threads + maxQueue in flight rejects at
   * once with SCORING_OVERLOADED instead of queueing unbounded latency. Default 1024.
   */
  maxQueue: number;
  /**
   * A task running or queued longer than this rejects with SCORING_TIMEOUT (a running worker is
   * replaced). Checked every timeout/4 (10 ms–1 s), so a timeout fires up to 25 % late. Default 5000.
   */
  taskTimeoutMs: number;
  /** Times a task is re-run after its worker died (crash, exit, timeout kill). Default 1. */
  retries: number;
  /** Honour fault-injection fields in tasks. Tests only. Default false. */
  testHooks: boolean;
}

export const DEFAULT_SCORING_POOL_OPTIONS: Readonly<ScoringPoolOptions> = Object.freeze({
  threads: availableParallelism(),
  maxSessionsPerWorker: 64,
  maxBatch: 64,
  maxQueue: 1024,
  taskTimeoutMs: 5000,
  retries: 1,
  testHooks: false,
});

function validate(o: ScoringPoolOptions): void {
  const integer = (name: keyof ScoringPoolOptions, min: number) => {
    const v = o[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      throw new TypeError(`options.${name} must be an integer >= ${min}, got ${String(v)}`);
    }
  };
  integer('threads', 1);
  integer('maxSessionsPerWorker', 1);
  integer('maxBatch', 1);
  integer('maxQueue', 0);
  integer('taskTimeoutMs', 1);
  integer('retries', 0);
  if (typeof o.testHooks !== 'boolean') throw new TypeError(`options.testHooks must be a boolean, got ${String(o.testHooks)}`);
}

/**
 * Where the worker lives relative to this module, in both layouts: source (`src/…/x.ts`, run
 * under tsx, so the worker needs the tsx loader too) and compiled (`dist/src/…/x.js`).
 */
export function scoringWorkerLocation(): { filename: string; execArgv: string[] | undefined } {
  const typescript = import.meta.url.endsWith('.ts');
  const filename = new URL(`../../workers/scoring-worker.${typescript ? 'ts' : 'js'}`, import.meta.url).href;
  return { filename, execArgv: typescript ? ['--import', 'tsx'] : undefined };
}

export interface ScoreOptions {
  /** Abandons the request (e.g. the socket closed); rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
  /** Fault injection for tests (first attempt only); ignored unless the pool has testHooks. */
  fault?: ScoringTask['fault'] | undefined;
}

export interface ScoringPoolStats {
  threads: number;
  /** Tasks running or waiting for a worker. */
  inFlight: number;
  completedTasks: number;
  retriedTasks: number;
  failedTasks: number;
}

/**
 * Scores feature windows off the event loop. Every failure is a catalogued VigilError:
 * SCORING_OVERLOADED (queue full), SCORING_TIMEOUT, SCORING_FAILED (model error, or a worker
 * that kept dying after `retries` re-runs). A task whose worker dies is re-run on a fresh
 * worker, never left hanging; Piscina replaces dead workers.
 */
export class ScoringPool {
  readonly options: Readonly<ScoringPoolOptions>;
  private readonly piscina: Piscina<ScoringTask | WindowBatchTask, ScoringResult | WindowBatchResult>;
  private retried = 0;
  private failed = 0;
  private inFlight = 0;
  private readonly deadlines = new Set<{ controller: AbortController; expires: number; timedOut: boolean }>();
  private watchdog: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: Partial<ScoringPoolOptions> = {}) {
    const o: ScoringPoolOptions = { ...DEFAULT_SCORING_POOL_OPTIONS, ...options };
    validate(o);
    this.options = Object.freeze(o);
    const { filename, execArgv } = scoringWorkerLocation();
    const workerData: ScoringWorkerData = { maxSessions: o.maxSessionsPerWorker, testHooks: o.testHooks };
    this.piscina = new Piscina<ScoringTask | WindowBatchTask, ScoringResult | WindowBatchResult>({
      filename,
      ...(execArgv ? { execArgv } : {}),
      minThreads: o.threads,
      maxThreads: o.threads,
      // Idle workers keep their sessions warm; the pool is sized for the machine, not the load.
      idleTimeout: Number.POSITIVE_INFINITY,
      workerData,
    });
    // Worker deaths surface as task rejections (handled in runOnce); keep them off 'error'.
    this.piscina.on('error', () => {});
  }

  get stats(): ScoringPoolStats {
    return {
      threads: this.piscina.threads.length,
      inFlight: this.inFlight,
      completedTasks: this.piscina.completed,
      retriedTasks: this.retried,
      failedTasks: this.failed,
    };
  }

  /**
   * Scores n windows of d features (row-major). Batches larger than maxBatch are split into
   * concurrent tasks; the result keeps window order. `features` is transferred when it exactly
   * spans its buffer and holds at most maxBatch rows (the caller must not reuse it); otherwise
   * the rows are copied.
   */
  async score(
    model: ScoringModel,
    features: Float32Array,
    n: number,
    d: number,
    options: ScoreOptions = {},
  ): Promise<Float32Array> {
    if (this.closed) throw new VigilError('SCORING_FAILED', { reason: 'the scoring pool is closed' });
    if (!Number.isInteger(n) || !Number.isInteger(d) || n < 0 || d < 1 || features.length < n * d) {
      throw new RangeError(`features hold ${features.length} values, not ${n}×${d}`);
    }
    if (n === 0) return new Float32Array(0);
    const batch = this.options.maxBatch;
    if (n <= batch) return this.runBatch(model, exclusive(features, n * d), n, d, options);
    const parts: Promise<Float32Array>[] = [];
    for (let from = 0; from < n; from += batch) {
      const rows = Math.min(batch, n - from);
      parts.push(this.runBatch(model, features.slice(from * d, (from + rows) * d), rows, d, options));
    }
    const out = new Float32Array(n);
    (await Promise.all(parts)).forEach((scores, i) => out.set(scores, i * batch));
    return out;
  }

  private async runBatch(
    model: ScoringModel,
    features: Float32Array,
    n: number,
    d: number,
    options: ScoreOptions,
  ): Promise<Float32Array> {
    const { fault, signal } = options;
    // Keep a copy only if a retry may be needed: the transferred buffer is gone after a crash.
    const spare = this.options.retries > 0 ? features.slice() : undefined;
    let attempt = 0;
    let input = features;
    for (;;) {
      try {
        // Injected faults hit the first attempt only, so tests can watch a retry succeed.
        const inject = fault && attempt === 0 ? { fault } : {};
        const task: ScoringTask = { modelKey: model.key, model: model.bytes, features: input, n, d, ...inject };
        const result = (await this.runOnce(task, transferList(task.features.buffer as ArrayBuffer), signal)) as ScoringResult;
        if ('error' in result) throw new VigilError('SCORING_FAILED', { reason: result.error });
        return result.scores;
      } catch (err) {
        if (!(err instanceof WorkerDied) || attempt >= this.options.retries || this.closed || signal?.aborted) {
          this.failed++;
          throw err instanceof WorkerDied ? err.error : err;
        }
        attempt++;
        this.retried++;
        input = (spare as Float32Array).slice();
      }
    }
  }

  /**
   * Scores one micro-batch of windows of many models (the socket path, issue 7). Its arrays live
   * in shared memory, so nothing is copied or transferred and a batch whose worker died is simply
   * run again (up to `retries` times) on a fresh worker. Scores land in `task.scores`; models that
   * fail come back in `failures` while the other rows are scored.
   */
  async scoreWindowBatch(task: WindowBatchTask, options: ScoreOptions = {}): Promise<WindowBatchResult> {
    if (this.closed) throw new VigilError('SCORING_FAILED', { reason: 'the scoring pool is closed' });
    const { fault, signal } = options;
    for (let attempt = 0; ; attempt++) {
      try {
        const run = fault && attempt === 0 ? { ...task, fault } : task;
        return (await this.runOnce(run, undefined, signal)) as WindowBatchResult;
      } catch (err) {
        if (!(err instanceof WorkerDied) || attempt >= this.options.retries || this.closed || signal?.aborted) {
          this.failed++;
          throw err instanceof WorkerDied ? err.error : err;
        }
        this.retried++;
      }
    }
  }

  private async runOnce(
    task: ScoringTask | WindowBatchTask,
    transfer: PiscinaTransferList | undefined,
    callerSignal: AbortSignal | undefined,
  ): Promise<ScoringResult | WindowBatchResult> {
    if (this.inFlight >= this.options.threads + this.options.maxQueue) throw new VigilError('SCORING_OVERLOADED', {});
    // One controller per task, expired by the shared watchdog: cheaper than a timer per task.
    const controller = new AbortController();
    const deadline = { controller, expires: performance.now() + this.options.taskTimeoutMs, timedOut: false };
    this.deadlines.add(deadline);
    this.startWatchdog();
    const onCallerAbort = () => controller.abort(callerSignal?.reason);
    callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
    let result: ScoringResult | WindowBatchResult;
    this.inFlight++;
    try {
      result = await this.piscina.run(task, { ...(transfer ? { transferList: transfer } : {}), signal: controller.signal });
    } catch (err) {
      const message = (err as Error).message ?? String(err);
      if (callerSignal?.aborted) throw callerSignal.reason;
      if (deadline.timedOut) throw new VigilError('SCORING_TIMEOUT', { timeoutMs: this.options.taskTimeoutMs }, { cause: err });
      throw new WorkerDied(new VigilError('SCORING_FAILED', { reason: `scoring worker died: ${message}` }, { cause: err }));
    } finally {
      this.inFlight--;
      this.deadlines.delete(deadline);
      callerSignal?.removeEventListener('abort', onCallerAbort);
    }
    return result;
  }

  /** Aborts tasks past their deadline; runs only while tasks are in flight. */
  private startWatchdog(): void {
    if (this.watchdog) return;
    const period = Math.max(10, Math.min(1000, Math.floor(this.options.taskTimeoutMs / 4)));
    this.watchdog = setInterval(() => {
      const now = performance.now();
      for (const d of this.deadlines) {
        if (d.expires <= now) {
          d.timedOut = true;
          d.controller.abort(new Error('scoring task timed out'));
          this.deadlines.delete(d);
        }
      }
      if (this.deadlines.size === 0 && this.watchdog) {
        clearInterval(this.watchdog);
        this.watchdog = undefined;
      }
    }, period);
    this.watchdog.unref();
  }

  /** Waits for running tasks, then stops the workers. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.watchdog);
    await this.piscina.close();
  }

  /** Stops the workers now; pending tasks reject. */
  async destroy(): Promise<void> {
    this.closed = true;
    clearInterval(this.watchdog);
    await this.piscina.destroy();
  }
}

/** Rejections caused by the worker (not the model): worth one more try on a fresh worker. */
class WorkerDied extends Error {
  constructor(readonly error: VigilError) {
    super(error.message);
  }
}

type PiscinaTransferList = NonNullable<Parameters<Piscina['run']>[1]>['transferList'];

/**
 * Piscina wants an array at runtime, but derives its TransferList type from the last
 * MessagePort.postMessage overload, which @types/node ≥ 22 declares as an options object.
 */
function transferList(buffer: ArrayBuffer): PiscinaTransferList {
  return [buffer] as unknown as PiscinaTransferList;
}

/** A Float32Array that owns its whole buffer, so transferring it cannot detach anyone else's data. */
function exclusive(features: Float32Array, length: number): Float32Array {
  const owns = features.byteOffset === 0 && features.length === length && features.buffer.byteLength === length * 4;
  return owns && !(features.buffer instanceof SharedArrayBuffer) ? features : features.slice(0, length);
}
