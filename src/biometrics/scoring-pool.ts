import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { VigilError } from '../../protocol/errors.ts';
import type { GatedTask, ScoringResult, ScoringTask, ScoringWorkerData, SkippedTask } from './scoring-tasks.ts';
import type { WindowBatchResult, WindowBatchTask } from './continuous/window-batch.ts';
import { TASK_STATE, TaskGates } from './native-gate.ts';
import { NativeLoads, nativeLoadCells } from './native-loads.ts';
import { ScoringFaults } from './scoring-faults.ts';

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
   * A task running or queued longer than this rejects with SCORING_TIMEOUT and its thread is
   * retired (terminated at once if in JavaScript, else as soon as its onnxruntime call returns).
   * Checked every timeout/4 (10 ms–1 s), so a timeout fires up to 25 % late. Default 5000.
   */
  taskTimeoutMs: number;
  /** Times a task is re-run after its worker died (crash, exit) or was retired by retireBusyThreads(). Default 1. */
  retries: number;
  /** Faults planted by a test in the next tasks (see scoring-faults.ts). Tests only. Default none. */
  faults: ScoringFaults | undefined;
  /** Tests only: threads wait inside their onnxruntime load until cell 0 of this shared array is set. Default none. */
  loadHold: Int32Array | undefined;
}

export const DEFAULT_SCORING_POOL_OPTIONS: Readonly<ScoringPoolOptions> = Object.freeze({
  threads: availableParallelism(),
  maxSessionsPerWorker: 64,
  maxBatch: 64,
  maxQueue: 1024,
  taskTimeoutMs: 5000,
  retries: 1,
  faults: undefined,
  loadHold: undefined,
});

function validate(o: ScoringPoolOptions): void {
  const integer = (name: keyof ScoringPoolOptions, min: number) => {
    const v = o[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      throw new TypeError(`options.${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
    }
  };
  integer('threads', 1);
  integer('maxSessionsPerWorker', 1);
  integer('maxBatch', 1);
  integer('maxQueue', 0);
  integer('taskTimeoutMs', 1);
  integer('retries', 0);
  if (o.faults !== undefined && !(o.faults instanceof ScoringFaults)) {
    throw new TypeError('options.faults must be a ScoringFaults or undefined');
  }
  if (o.loadHold !== undefined && !(o.loadHold instanceof Int32Array && o.loadHold.buffer instanceof SharedArrayBuffer)) {
    throw new TypeError('options.loadHold must be an Int32Array over a SharedArrayBuffer, or undefined');
  }
}

/** Longest a close waits for threads still loading onnxruntime-node (a load takes ~0.1 s; minutes on a swamped machine). */
const LOAD_SETTLE_MS = 120_000;

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
}

export interface ScoringPoolStats {
  threads: number;
  /** Tasks running or waiting for a worker (including those given up on whose thread has not let go yet). */
  inFlight: number;
  completedTasks: number;
  retriedTasks: number;
  failedTasks: number;
  /** Threads the pool retired (a task past its timeout, or retireBusyThreads()). */
  retiredThreads: number;
  /** Of those, threads that were inside onnxruntime: each left the pool when its call returned. */
  retiredInNative: number;
  /** Threads loading onnxruntime-node right now (a close waits for them). */
  loadingThreads: number;
}

/** One task handed to Piscina, from posting until its worker can no longer touch it. */
interface Ticket {
  readonly slot: number;
  readonly expires: number;
  /** The pool gave up on it; its thread is being retired. */
  retired: boolean;
  /** Settles the caller (once); later outcomes are ignored. */
  fail(err: unknown): void;
  /** Set when the caller's failure must wait until the worker let go of the task (a retirement that retries). */
  failWhenReleased?: WorkerDied | undefined;
}

/**
 * Scores feature windows off the event loop. Every failure is a catalogued VigilError:
 * SCORING_OVERLOADED (queue full), SCORING_TIMEOUT, SCORING_FAILED (model error, or a worker
 * that kept dying after `retries` re-runs). A task whose worker dies is re-run on a fresh
 * worker, never left hanging; Piscina replaces dead workers.
 *
 * The pool never terminates a thread that may be inside onnxruntime (that aborts the process;
 * native-gate.ts says why). A task past its timeout is answered with SCORING_TIMEOUT at once; its
 * thread is terminated if it is in JavaScript, and otherwise retires itself when its native call
 * returns. Caller aborts never end a thread: a queued task is skipped, a running one finishes unread.
 * Nor does it stop a thread still loading onnxruntime-node (native-loads.ts).
 */
export class ScoringPool {
  readonly options: Readonly<ScoringPoolOptions>;
  private readonly piscina: Piscina<(ScoringTask | WindowBatchTask) & GatedTask, ScoringResult | WindowBatchResult | SkippedTask>;
  private readonly gates: TaskGates;
  private readonly loads = new NativeLoads(nativeLoadCells());
  private readonly tickets = new Set<Ticket>();
  private retried = 0;
  private failed = 0;
  private retiredThreads = 0;
  private retiredInNative = 0;
  private watchdog: NodeJS.Timeout | undefined;
  private closed = false;
  private drained: (() => void) | undefined;

  constructor(options: Partial<ScoringPoolOptions> = {}) {
    const o: ScoringPoolOptions = { ...DEFAULT_SCORING_POOL_OPTIONS, ...options };
    validate(o);
    this.options = Object.freeze(o);
    // One gate per task the pool admits (running or queued): the admission limit is the slot count.
    this.gates = new TaskGates(o.threads + o.maxQueue);
    const { filename, execArgv } = scoringWorkerLocation();
    const workerData: ScoringWorkerData = {
      maxSessions: o.maxSessionsPerWorker,
      // The worker honours a task's fault field and the load hold only in a pool given them (tests).
      testHooks: o.faults !== undefined || o.loadHold !== undefined,
      gates: this.gates.cells,
      loads: this.loads.cells,
      loadHold: o.loadHold,
    };
    this.piscina = new Piscina({
      filename,
      ...(execArgv ? { execArgv } : {}),
      minThreads: o.threads,
      maxThreads: o.threads,
      // Idle workers keep their sessions warm; the pool is sized for the machine, not the load.
      idleTimeout: Number.POSITIVE_INFINITY,
      // Piscina's own run/wait histograms: nobody reads them, and each task would record into both.
      recordTiming: false,
      workerData,
    });
    // Worker deaths surface as task rejections (handled in runOnce); keep them off 'error'.
    this.piscina.on('error', () => {});
  }

  get stats(): ScoringPoolStats {
    return {
      threads: this.piscina.threads.length,
      inFlight: this.gates.inUse,
      completedTasks: this.piscina.completed,
      retriedTasks: this.retried,
      failedTasks: this.failed,
      retiredThreads: this.retiredThreads,
      retiredInNative: this.retiredInNative,
      loadingThreads: this.loads.loading,
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
    const { signal } = options;
    const fault = this.options.faults?.take();
    // Keep a copy only if a retry may be needed: the transferred buffer is gone after a crash.
    const spare = this.options.retries > 0 ? features.slice() : undefined;
    return this.withRetries(signal, async (attempt) => {
      // Injected faults hit the first attempt only, so tests can watch a retry succeed.
      const inject = fault && attempt === 0 ? { fault } : {};
      const input = attempt === 0 ? features : (spare as Float32Array).slice();
      const task: ScoringTask = { modelKey: model.key, model: model.bytes, features: input, n, d, ...inject };
      const result = (await this.runOnce(task, transferList(task.features.buffer as ArrayBuffer), signal)) as ScoringResult;
      if ('error' in result) throw new VigilError('SCORING_FAILED', { reason: result.error });
      return result.scores;
    });
  }

  /** Runs `attempt` again on a fresh worker while the worker died and retries remain. */
  private async withRetries<T>(signal: AbortSignal | undefined, run: (attempt: number) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await run(attempt);
      } catch (err) {
        if (!(err instanceof WorkerDied) || attempt >= this.options.retries || this.closed || signal?.aborted) {
          this.failed++;
          throw err instanceof WorkerDied ? err.error : err;
        }
        this.retried++;
      }
    }
  }

  /**
   * Scores one micro-batch of windows of many models (the socket path). Its arrays live in shared
   * memory, so nothing is copied or transferred and a batch whose worker died is simply run again
   * (up to `retries` times) on a fresh worker. Scores land in `task.scores`; models that fail come
   * back in `failures` while the other rows are scored. After SCORING_TIMEOUT a retiring worker may
   * still write into the batch's arrays: do not reuse them.
   */
  async scoreWindowBatch(task: WindowBatchTask, options: ScoreOptions = {}): Promise<WindowBatchResult> {
    if (this.closed) throw new VigilError('SCORING_FAILED', { reason: 'the scoring pool is closed' });
    const { signal } = options;
    const fault = this.options.faults?.take();
    return this.withRetries(signal, async (attempt) => {
      const run = fault && attempt === 0 ? { ...task, fault } : task;
      return (await this.runOnce(run, undefined, signal)) as WindowBatchResult;
    });
  }

  private runOnce(
    task: ScoringTask | WindowBatchTask,
    transfer: PiscinaTransferList | undefined,
    callerSignal: AbortSignal | undefined,
  ): Promise<ScoringResult | WindowBatchResult> {
    if (callerSignal?.aborted) return Promise.reject(callerSignal.reason as unknown);
    const slot = this.gates.acquire();
    if (slot === undefined) return Promise.reject(new VigilError('SCORING_OVERLOADED', {}));
    return new Promise((resolve, reject) => {
      let settled = false;
      const onCallerAbort = () => {
        ticket.fail(callerSignal?.reason);
        // Still queued: its worker will skip it. Running: it finishes and nobody reads it.
        if (this.gates.state(slot) === TASK_STATE.queued) this.gates.giveUp(slot);
      };
      const settle = () => {
        settled = true;
        callerSignal?.removeEventListener('abort', onCallerAbort);
      };
      const ticket: Ticket = {
        slot,
        expires: performance.now() + this.options.taskTimeoutMs,
        retired: false,
        fail(err) {
          if (settled) return;
          settle();
          reject(err);
        },
      };
      callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
      this.tickets.add(ticket);
      this.startWatchdog();
      // One task object per run: the slot differs between attempts.
      const gated = { ...task, slot };
      this.piscina.run(gated, transfer ? { transferList: transfer } : {}).then(
        (result) => {
          if (ticket.failWhenReleased) ticket.fail(ticket.failWhenReleased);
          else if (!settled) {
            settle();
            resolve(result as ScoringResult | WindowBatchResult);
          }
          this.release(ticket);
        },
        (err: unknown) => {
          const message = (err as Error).message ?? String(err);
          ticket.fail(
            ticket.failWhenReleased ??
              new WorkerDied(new VigilError('SCORING_FAILED', { reason: `scoring worker died: ${message}` }, { cause: err })),
          );
          this.release(ticket);
        },
      );
    });
  }

  /** The task's worker is done with it (returned, skipped it, or exited): its slot is free again. */
  private release(ticket: Ticket): void {
    this.tickets.delete(ticket);
    this.gates.release(ticket.slot);
    if (this.tickets.size === 0) this.drained?.();
  }

  /**
   * Gives up on a task without ever terminating a thread inside onnxruntime: a queued task is
   * skipped; a running one's thread is terminated if it is in JavaScript (it can no longer enter
   * onnxruntime), and otherwise exits by itself when its native call returns.
   */
  private retire(ticket: Ticket): boolean {
    ticket.retired = true;
    const next = this.gates.giveUp(ticket.slot);
    if (next.action === 'none') return false;
    this.retiredThreads++;
    if (next.action === 'await-exit') this.retiredInNative++;
    if (next.action === 'terminate') {
      const thread = this.piscina.threads.find((t) => t.threadId === next.threadId);
      // A thread that already exited rejects terminate(); nothing is left to do then.
      void thread?.terminate().catch(() => {});
    }
    return true;
  }

  /**
   * Retires every thread that is running a task, as a timeout would, but their tasks are re-run
   * on fresh threads (within `retries`) once the retired thread let go of them. Returns how many
   * threads it retired. For operators and fault tests: the way to end a busy thread that cannot
   * abort the process.
   */
  retireBusyThreads(): number {
    let retired = 0;
    for (const ticket of this.tickets) {
      const state = this.gates.state(ticket.slot);
      if (ticket.retired || (state !== TASK_STATE.running && state !== TASK_STATE.native)) continue;
      if (!this.retire(ticket)) continue;
      // The run settles asynchronously, after this.
      ticket.failWhenReleased = new WorkerDied(new VigilError('SCORING_FAILED', { reason: 'scoring worker retired' }));
      retired++;
    }
    return retired;
  }

  /** Answers tasks past their deadline with SCORING_TIMEOUT and retires their threads; runs only while tasks are in flight. */
  private startWatchdog(): void {
    if (this.watchdog) return;
    const period = Math.max(10, Math.min(1000, Math.floor(this.options.taskTimeoutMs / 4)));
    this.watchdog = setInterval(() => {
      const now = performance.now();
      for (const ticket of this.tickets) {
        if (ticket.retired || ticket.expires > now) continue;
        ticket.fail(new VigilError('SCORING_TIMEOUT', { timeoutMs: this.options.taskTimeoutMs }));
        this.retire(ticket);
      }
      if (this.tickets.size === 0 && this.watchdog) {
        clearInterval(this.watchdog);
        this.watchdog = undefined;
      }
    }, period);
    this.watchdog.unref();
  }

  /** Resolves once no task is in flight, or after `ms`. */
  private async drain(ms: number): Promise<void> {
    if (this.tickets.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.drained = resolve;
      timer = setTimeout(resolve, ms);
    });
    clearTimeout(timer);
    this.drained = undefined;
  }

  /**
   * Waits for tasks in flight (a hung one is ended by its timeout), then stops the workers: with
   * no task left and no load in progress, no thread is inside onnxruntime.
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.drain(Number.POSITIVE_INFINITY);
    clearInterval(this.watchdog);
    await this.stopThreads();
  }

  /**
   * Fails pending tasks now and stops the workers once none is inside onnxruntime (waiting at
   * most taskTimeoutMs for a native call to return).
   */
  async destroy(): Promise<void> {
    this.closed = true;
    const closed = new VigilError('SCORING_FAILED', { reason: 'the scoring pool is closed' });
    for (const ticket of this.tickets) {
      ticket.fail(closed);
      if (!ticket.retired) this.retire(ticket);
    }
    await this.drain(this.options.taskTimeoutMs);
    clearInterval(this.watchdog);
    await this.stopThreads();
  }

  private async stopThreads(): Promise<void> {
    await this.loads.closeAndSettle(LOAD_SETTLE_MS);
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
