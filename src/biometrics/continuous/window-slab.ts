import type { VigilError } from '../../../protocol/errors.ts';
import type { BatchModel, BatchModelRef, BatchRows, WindowBatchResult, WindowBatchTask } from './window-batch.ts';

/** Where a window's outcome goes: its stream. Called in window order per stream. */
export interface WindowSink {
  /** Set by the batcher: the serial of the last batch this sink had a row in (counts distinct streams per batch). */
  batchMark: number;
  scored(window: number, score: number, arrivedAt: number, model: BatchModel): void;
  failed(window: number, error: VigilError, model: BatchModel): void;
}

/**
 * One micro-batch's memory, reused batch after batch: the rows the worker reads and the
 * scores it writes live in SharedArrayBuffers; which stream and window each row belongs to stays
 * on the main thread. Filling a slab allocates nothing.
 */
export class WindowSlab {
  values: Float32Array;
  readonly offsets: Int32Array;
  readonly rowModel: Int32Array;
  readonly scores: Float32Array;
  readonly sinks: Array<WindowSink | undefined>;
  readonly windows: Int32Array;
  /** performance.now() when each window's last sample arrived. */
  readonly arrived: Float64Array;
  readonly models: BatchModel[] = [];
  private readonly refs: BatchModelRef[] = [];
  private readonly modelIndex = new Map<BatchModel, number>();
  /** The message posted to the worker; reused (Piscina clones it when posting). */
  readonly task: WindowBatchTask;
  n = 0;
  /** Floats of `values` in use. */
  used = 0;
  distinctSinks = 0;
  /** Set when the pool answered: the result, or the error every row failed with. */
  outcome: WindowBatchResult | VigilError | undefined;

  constructor(
    readonly capacity: number,
    floats: number,
    rows: BatchRows,
  ) {
    this.values = new Float32Array(new SharedArrayBuffer(floats * 4));
    this.offsets = new Int32Array(new SharedArrayBuffer((capacity + 1) * 4));
    this.rowModel = new Int32Array(new SharedArrayBuffer(capacity * 4));
    this.scores = new Float32Array(new SharedArrayBuffer(capacity * 4));
    this.sinks = new Array<WindowSink | undefined>(capacity).fill(undefined);
    this.windows = new Int32Array(capacity);
    this.arrived = new Float64Array(capacity);
    this.task = {
      kind: 'window-batch',
      rows,
      n: 0,
      values: this.values,
      offsets: this.offsets,
      rowModel: this.rowModel,
      scores: this.scores,
      models: this.refs,
    };
  }

  get full(): boolean {
    return this.n >= this.capacity;
  }

  /** Whether a row of `width` floats (starting at a multiple of `align`) fits. */
  fits(width: number, align: number): boolean {
    return alignUp(this.used, align) + width <= this.values.length;
  }

  /** An empty slab too small for one row gets a larger buffer (a new, wider spec appeared). */
  ensure(width: number): void {
    if (this.n !== 0) throw new Error('only an empty slab can grow');
    if (width <= this.values.length) return;
    this.values = new Float32Array(new SharedArrayBuffer(width * 4));
    this.task.values = this.values;
  }

  /**
   * Claims the next row for `model`; returns the float offset to write its `width` values at.
   * The caller checked `fits`.
   */
  claim(
    sink: WindowSink,
    model: BatchModel,
    window: number,
    arrivedAt: number,
    width: number,
    align: number,
    serial: number,
  ): number {
    const row = this.n++;
    const offset = alignUp(this.used, align);
    this.offsets[row] = offset;
    this.used = offset + width;
    this.offsets[row + 1] = this.used;
    let index = this.modelIndex.get(model);
    if (index === undefined) {
      index = this.models.length;
      this.modelIndex.set(model, index);
      this.models.push(model);
      this.refs.push(model.ref);
    }
    this.rowModel[row] = index;
    this.sinks[row] = sink;
    this.windows[row] = window;
    this.arrived[row] = arrivedAt;
    if (sink.batchMark !== serial) {
      sink.batchMark = serial;
      this.distinctSinks++;
    }
    return offset;
  }

  /** Ready for the worker. */
  seal(): WindowBatchTask {
    this.task.n = this.n;
    return this.task;
  }

  /** Empties the slab for reuse; drops the references to streams and models. */
  reset(): void {
    this.sinks.fill(undefined, 0, this.n);
    this.n = 0;
    this.used = 0;
    this.distinctSinks = 0;
    this.outcome = undefined;
    this.models.length = 0;
    this.refs.length = 0;
    this.modelIndex.clear();
  }
}

function alignUp(value: number, align: number): number {
  const rest = value % align;
  return rest === 0 ? value : value + align - rest;
}
