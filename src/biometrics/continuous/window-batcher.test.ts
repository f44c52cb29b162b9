import { ScoringFaults } from '../scoring-faults.ts';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VigilError } from '../../../protocol/errors.ts';
import { SPEC, testPart, trainSubject } from '../../../test/continuous/wisdm.ts';
import { extractWindows } from '../features/extract-windows.ts';
import { scoreOnnx, scoresAgree } from '../onnx/onnx-check.ts';
import type { SampleSet } from '../samples.ts';
import { ScoringPool, scoringModel } from '../scoring-pool.ts';
import type { ModelArtifact } from '../training.ts';
import { createContinuousMetrics, type ContinuousMetrics } from './continuous-metrics.ts';
import { batchModel, type BatchModel } from './window-batch.ts';
import { WindowAssembler } from './window-assembler.ts';
import { WindowBatcher, type WindowBatcherOptions } from './window-batcher.ts';
import type { WindowSink } from './window-slab.ts';

// The micro-batcher against a real Piscina pool running onnxruntime, with models trained by
// trainModel on real WISDM walking data, fed through per-stream ring buffers.

const SUBJECTS = ['1600', '1601', '1602', '1603'];
let artifacts: ModelArtifact[];
let models: BatchModel[];
let streams: SampleSet[];
/** Reference: each subject's test windows scored in-process by its own model. */
let reference: Float32Array[];
let pool: ScoringPool;
/** Faults planted in `pool`'s next task by the tests that crash or hang its workers. */
const faults = new ScoringFaults();

beforeAll(async () => {
  artifacts = await Promise.all(
    SUBJECTS.map((s) =>
      trainSubject(
        s,
        SUBJECTS.filter((o) => o !== s),
      ),
    ),
  );
  models = artifacts.map((a, i) => batchModel(scoringModel(`u${i}:1`, a.onnx), a.featureSpec));
  streams = await Promise.all(SUBJECTS.map(testPart));
  reference = await Promise.all(streams.map((s, i) => scoreOnnx(artifacts[i]!.onnx, extractWindows(s, SPEC).features)));
  pool = new ScoringPool({ threads: 2, faults, taskTimeoutMs: 20_000 });
}, 120_000);
afterAll(async () => {
  await pool?.destroy();
});

class Sink implements WindowSink {
  batchMark = 0;
  readonly scores = new Map<number, number>();
  readonly failures = new Map<number, VigilError>();
  readonly order: number[] = [];
  constructor(readonly expected: number) {}
  scored(window: number, score: number, arrivedAt: number) {
    expect(arrivedAt).toBeGreaterThan(0);
    this.order.push(window);
    this.scores.set(window, score);
  }
  failed(window: number, error: VigilError) {
    this.order.push(window);
    this.failures.set(window, error);
  }
  get done(): boolean {
    return this.order.length >= this.expected;
  }
}

function setup(options: Partial<WindowBatcherOptions>): {
  batcher: WindowBatcher;
  metrics: ContinuousMetrics;
  registry: Registry;
} {
  const registry = new Registry();
  const metrics = createContinuousMetrics(registry);
  return { batcher: new WindowBatcher(pool, options, metrics), metrics, registry };
}

/**
 * Streams `streamCount` sockets' worth of data into the batcher: stream k replays subject
 * k mod 4 in frames of `frame` samples, interleaved as frames from many sockets arrive.
 */
async function stream(batcher: WindowBatcher, streamCount: number, frame = 10, windowsEach = 12) {
  const samples = SPEC.windowSamples + (windowsEach - 1) * SPEC.hopSamples;
  const sinks = Array.from({ length: streamCount }, () => new Sink(windowsEach));
  const assemblers = sinks.map(() => new WindowAssembler(3, SPEC.windowSamples, SPEC.hopSamples));
  const next = sinks.map(() => 0);
  for (let at = 0; at < samples; at += frame) {
    for (let k = 0; k < streamCount; k++) {
      const m = k % models.length;
      const data = streams[m]!.data;
      const count = Math.min(frame, samples - at);
      assemblers[k]!.push(data.subarray(at * 3, (at + count) * 3), count, {
        onWindow: (ring, start, ringSamples) =>
          void batcher.add(sinks[k]!, models[m]!, ring, start, ringSamples, next[k]!++, performance.now()),
      });
    }
  }
  batcher.flushNow();
  const deadline = Date.now() + 30_000;
  while (!sinks.every((s) => s.done) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  return sinks;
}

function expectReferenceScores(sinks: Sink[]) {
  sinks.forEach((sink, k) => {
    const ref = reference[k % models.length]!;
    expect(sink.failures.size).toBe(0);
    expect(sink.order).toEqual([...sink.order].sort((a, b) => a - b));
    for (const [w, score] of sink.scores)
      expect(scoresAgree(score, ref[w]!), `stream ${k} window ${w}: ${score} vs ${ref[w]}`).toBe(true);
  });
}

async function histogram(registry: Registry, name: string): Promise<{ sum: number; count: number }> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name)!;
  const values = metric.values as Array<{ metricName?: string; value: number }>;
  return {
    sum: values.find((v) => v.metricName === `${name}_sum`)!.value,
    count: values.find((v) => v.metricName === `${name}_count`)!.value,
  };
}

describe('WindowBatcher', () => {
  it.each(['samples', 'features'] as const)(
    'scores windows of many streams and models exactly as onnxruntime in-process (features in %s rows)',
    async (rows) => {
      const { batcher, registry } = setup({ batchSize: 32, deadlineMs: 5, rows });
      const sinks = await stream(batcher, 24);
      expect(sinks.every((s) => s.scores.size === 12)).toBe(true);
      expectReferenceScores(sinks);
      // Batching demonstrably groups windows from many sockets: 288 windows in full batches of 32.
      const windows = await histogram(registry, 'vigil_cv_batch_windows');
      const streamsPerBatch = await histogram(registry, 'vigil_cv_batch_streams');
      expect(windows.sum).toBe(24 * 12);
      expect(windows.count).toBe(9);
      expect(streamsPerBatch.sum / streamsPerBatch.count).toBeGreaterThanOrEqual(16);
      expect(batcher.pending).toBe(0);
    },
  );

  it('sends a partial batch when its first window has waited the deadline', async () => {
    const { batcher, registry } = setup({ batchSize: 64, deadlineMs: 20 });
    const sink = new Sink(1);
    const assembler = new WindowAssembler(3, SPEC.windowSamples, SPEC.hopSamples);
    const sent = performance.now();
    assembler.push(streams[0]!.data, SPEC.windowSamples, {
      onWindow: (ring, start, n) => void batcher.add(sink, models[0]!, ring, start, n, 0, sent),
    });
    while (!sink.done) await new Promise((r) => setTimeout(r, 2));
    expect(performance.now() - sent).toBeGreaterThanOrEqual(19);
    expect(scoresAgree(sink.scores.get(0)!, reference[0]![0]!)).toBe(true);
    const flushes = (await registry.getSingleMetric('vigil_cv_batches_total')!.get()).values;
    expect(flushes).toEqual([expect.objectContaining({ labels: { reason: 'deadline' }, value: 1 })]);
  });

  it('retries the batch of a scoring worker that crashes: no window is lost', async () => {
    const { batcher } = setup({ batchSize: 16 });
    const retried = pool.stats.retriedTasks;
    faults.inject('exit'); // the next task is this batcher's first batch
    const sinks = await stream(batcher, 8, 10, 4);
    expect(pool.stats.retriedTasks).toBe(retried + 1);
    expectReferenceScores(sinks);
    expect(sinks.every((s) => s.scores.size === 4)).toBe(true);
  });

  it('reports every window of a batch whose worker keeps dying, and keeps scoring afterwards', async () => {
    const fragileFaults = new ScoringFaults();
    const fragile = new ScoringPool({ threads: 1, retries: 0, faults: fragileFaults });
    try {
      const registry = new Registry();
      const batcher = new WindowBatcher(fragile, { batchSize: 16 }, createContinuousMetrics(registry));
      fragileFaults.inject('exit');
      const sinks = await stream(batcher, 4, 10, 4);
      // 16 windows in the crashed batch, each reported to its stream; nothing silently missing.
      expect(sinks.flatMap((s) => [...s.failures.values()].map((e) => e.code))).toEqual(new Array(16).fill('SCORING_FAILED'));
      const again = await stream(batcher, 4, 10, 4);
      expectReferenceScores(again);
      const outcomes = (await registry.getSingleMetric('vigil_cv_windows_total')!.get()).values;
      expect(outcomes).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ labels: { outcome: 'failed' }, value: 16 }),
          expect.objectContaining({ labels: { outcome: 'scored' }, value: 16 }),
        ]),
      );
    } finally {
      await fragile.destroy();
    }
  });

  it('fails only the rows of a model that does not load', async () => {
    const { batcher } = setup({ batchSize: 8 });
    const broken = batchModel(scoringModel('broken:1', new Uint8Array([1, 2, 3, 4])), SPEC);
    const good = new Sink(2);
    const bad = new Sink(2);
    const a = new WindowAssembler(3, SPEC.windowSamples, SPEC.hopSamples);
    const b = new WindowAssembler(3, SPEC.windowSamples, SPEC.hopSamples);
    const samples = SPEC.windowSamples + SPEC.hopSamples;
    let wa = 0;
    let wb = 0;
    a.push(streams[1]!.data, samples, { onWindow: (r, s, n) => void batcher.add(good, models[1]!, r, s, n, wa++, 1) });
    b.push(streams[2]!.data, samples, { onWindow: (r, s, n) => void batcher.add(bad, broken, r, s, n, wb++, 1) });
    batcher.flushNow();
    while (!(good.done && bad.done)) await new Promise((r) => setTimeout(r, 5));
    expect([...good.scores.keys()]).toEqual([0, 1]);
    expect([...bad.failures.values()].map((e) => e.code)).toEqual(['SCORING_FAILED', 'SCORING_FAILED']);
    expect(bad.failures.get(0)!.message).toMatch(/broken:1 does not load/);
  });

  it('drops and reports windows beyond maxPendingWindows instead of queueing them', async () => {
    const { batcher, registry } = setup({ batchSize: 4, maxPendingWindows: 8, deadlineMs: 1000 });
    // The first batch hangs in its worker until the pool's timeout: nothing comes back meanwhile.
    faults.inject('hang');
    const sinks = Array.from({ length: 12 }, () => new Sink(1));
    for (const [k, sink] of sinks.entries()) {
      const assembler = new WindowAssembler(3, SPEC.windowSamples, SPEC.hopSamples);
      assembler.push(streams[0]!.data, SPEC.windowSamples, {
        onWindow: (r, s, n) => void batcher.add(sink, models[0]!, r, s, n, 0, k),
      });
    }
    // Two slabs (8 windows) are taken; windows 9–12 find none free.
    expect(sinks.slice(8).map((s) => s.failures.get(0)?.code)).toEqual(new Array(4).fill('SCORING_OVERLOADED'));
    expect(batcher.pending).toBe(8);
    const dropped = (await registry.getSingleMetric('vigil_cv_windows_dropped_total')!.get()).values;
    expect(dropped).toEqual([expect.objectContaining({ labels: { reason: 'overloaded' }, value: 4 })]);
    batcher.flushNow();
  });

  it('refuses options that cannot work, naming them', () => {
    expect(() => setup({ batchSize: 0 })).toThrow('options.batchSize must be an integer >= 1, got 0');
    expect(() => setup({ deadlineMs: -1 })).toThrow('options.deadlineMs must be a number >= 0, got -1');
    expect(() => setup({ batchSize: 64, maxPendingWindows: 10 })).toThrow(
      'options.maxPendingWindows must be at least options.batchSize (64), got 10',
    );
    expect(() => setup({ rows: 'pixels' as never })).toThrow('options.rows must be samples or features, got pixels');
  });
});
