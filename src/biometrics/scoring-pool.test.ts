import { ScoringFaults } from './scoring-faults.ts';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VigilError } from '../../protocol/errors.ts';
import { scoreReference, trainDetector } from './detectors/index.ts';
import { gaussianRows, syntheticPeople } from './detectors/test-data.ts';
import { exportDetector } from './onnx/export-detector.ts';
import { scoresAgree } from './onnx/onnx-check.ts';
import type { FeatureMatrix } from './samples.ts';
import { ScoringPool, scoringModel, type ScoringPoolOptions } from './scoring-pool.ts';

const run = promisify(execFile);
const D = 24;
const [owner, ...cohort] = syntheticPeople(5, D, 40, 12) as [FeatureMatrix, ...FeatureMatrix[]];
const params = trainDetector('logistic-cohort', { genuine: owner, cohort });
const onnx = exportDetector(params, D);
const probe = gaussianRows(150, new Array(D).fill(5), 1.5, 99);
const reference = scoreReference(params, probe);

async function errorOf(promise: Promise<unknown>): Promise<VigilError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof VigilError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

function expectReference(scores: Float32Array, from = 0): void {
  for (let i = 0; i < scores.length; i++) {
    expect(scoresAgree(scores[i]!, reference[from + i]!), `window ${from + i}: ${scores[i]} vs ${reference[from + i]}`).toBe(
      true,
    );
  }
}

async function until(condition: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function release(hold: Int32Array): void {
  Atomics.store(hold, 0, 1);
  Atomics.notify(hold, 0);
}

/** Faults planted in the pools below (each test plants its own right before the call it breaks). */
const faults = new ScoringFaults();

describe('ScoringPool', () => {
  let pool: ScoringPool;
  beforeAll(() => {
    pool = new ScoringPool({ threads: 2, maxBatch: 64, faults, taskTimeoutMs: 20_000 });
  });
  afterAll(async () => {
    await pool.destroy();
  });

  it('gives the TypeScript reference scores, in window order, across split batches', async () => {
    const model = scoringModel('user-1:v1', onnx);
    const scores = await pool.score(model, probe.data.slice(), probe.n, D);
    expect(scores.length).toBe(150);
    expectReference(scores);
    expect(pool.stats.completedTasks).toBeGreaterThanOrEqual(3); // 64 + 64 + 22
  });

  it('transfers an exclusive batch buffer and copies a view of a larger one', async () => {
    const model = scoringModel('user-1:v1', onnx);
    const own = probe.data.slice(0, 16 * D);
    await pool.score(model, own, 16, D);
    expect(own.length).toBe(0); // detached: moved to the worker, not cloned
    const view = probe.data.subarray(16 * D, 32 * D);
    expectReference(await pool.score(model, view, 16, D), 16);
    expect(view.length).toBe(16 * D);
  });

  it('reruns the task of a worker that exits, and keeps serving', async () => {
    const model = scoringModel('user-1:v1', onnx);
    const before = pool.stats.retriedTasks;
    faults.inject('exit');
    expectReference(await pool.score(model, probe.data.slice(0, 8 * D), 8, D));
    expect(pool.stats.retriedTasks).toBe(before + 1);
    expectReference(await pool.score(model, probe.data.slice(0, 8 * D), 8, D));
  });

  it('reruns the task of a worker killed by an uncaught exception', async () => {
    const model = scoringModel('user-1:v1', onnx);
    faults.inject('throw');
    expectReference(await pool.score(model, probe.data.slice(0, 4 * D), 4, D));
  });

  it('reports a model that does not load as SCORING_FAILED without retrying', async () => {
    const retried = pool.stats.retriedTasks;
    const err = await errorOf(pool.score(scoringModel('broken:v1', new Uint8Array([1, 2, 3])), new Float32Array(D), 1, D));
    expect(err.code).toBe('SCORING_FAILED');
    expect(err.message).toMatch(/broken:v1 does not load/);
    expect(pool.stats.retriedTasks).toBe(retried);
  });

  it('reports a batch of the wrong width as SCORING_FAILED', async () => {
    const err = await errorOf(pool.score(scoringModel('user-1:v1', onnx), new Float32Array(2 * (D + 1)), 2, D + 1));
    expect(err.code).toBe('SCORING_FAILED');
  });
});

describe('ScoringPool failure limits', () => {
  it('rejects with SCORING_FAILED when the worker dies and retries are off, then serves again', async () => {
    const pool = new ScoringPool({ threads: 1, retries: 0, faults });
    try {
      const model = scoringModel('m', onnx);
      faults.inject('exit');
      const err = await errorOf(pool.score(model, probe.data.slice(0, D), 1, D));
      expect(err.code).toBe('SCORING_FAILED');
      expect(err.message).toMatch(/worker died/);
      expect(err.status).toBe(503);
      expectReference(await pool.score(model, probe.data.slice(0, D), 1, D));
      expect(pool.stats.failedTasks).toBe(1);
    } finally {
      await pool.destroy();
    }
  });

  // The timeout also covers starting the replacement worker (tsx + onnxruntime) on a busy machine.
  it('times out a hung task with SCORING_TIMEOUT and replaces the worker', async () => {
    const pool = new ScoringPool({ threads: 1, retries: 0, taskTimeoutMs: 4000, faults });
    try {
      const model = scoringModel('m', onnx);
      await pool.score(model, probe.data.slice(0, D), 1, D); // warm: the worker is up
      faults.inject('hang');
      const err = await errorOf(pool.score(model, probe.data.slice(0, D), 1, D));
      expect(err.code).toBe('SCORING_TIMEOUT');
      expectReference(await pool.score(model, probe.data.slice(0, D), 1, D));
    } finally {
      await pool.destroy();
    }
  });

  it('rejects with SCORING_OVERLOADED when the queue is full', async () => {
    const pool = new ScoringPool({ threads: 1, maxQueue: 1, retries: 0, taskTimeoutMs: 60_000, faults });
    try {
      const model = scoringModel('m', onnx);
      faults.inject('hang', 2);
      const running = pool.score(model, probe.data.slice(0, D), 1, D);
      const queued = pool.score(model, probe.data.slice(0, D), 1, D);
      running.catch(() => {});
      queued.catch(() => {});
      expect(pool.stats.inFlight).toBe(2);
      const err = await errorOf(pool.score(model, probe.data.slice(0, D), 1, D));
      expect(err.code).toBe('SCORING_OVERLOADED');
      expect(err.close).toBe(1013);
    } finally {
      await pool.destroy();
    }
  });

  it('passes the caller abort reason through', async () => {
    const pool = new ScoringPool({ threads: 1, faults });
    try {
      const controller = new AbortController();
      faults.inject('hang');
      const pending = pool.score(scoringModel('m', onnx), probe.data.slice(0, D), 1, D, { signal: controller.signal });
      setTimeout(() => controller.abort(new Error('socket closed')), 200);
      await expect(pending).rejects.toThrow('socket closed');
    } finally {
      await pool.destroy();
    }
  });
});

// A thread ended inside an onnxruntime call aborts the whole process (native-gate.ts): the pool
// retires such threads instead, and these tests would crash the test process if it did not.
describe('ScoringPool retirement', () => {
  it('answers a task stalled inside onnxruntime with SCORING_TIMEOUT, retires the thread when its call returns, and keeps serving', async () => {
    // The timeout also covers starting the replacement worker (tsx + onnxruntime) on a busy machine.
    const pool = new ScoringPool({ threads: 1, retries: 0, taskTimeoutMs: 4000, faults });
    try {
      const model = scoringModel('m', onnx);
      await pool.score(model, probe.data.slice(0, D), 1, D); // warm: the worker is up
      faults.inject('stall');
      const err = await errorOf(pool.score(model, probe.data.slice(0, D), 1, D));
      expect(err.code).toBe('SCORING_TIMEOUT');
      expect(pool.stats.retiredInNative).toBe(1);
      expectReference(await pool.score(model, probe.data.slice(0, 8 * D), 8, D));
    } finally {
      await pool.destroy();
    }
  });

  it('re-runs the tasks of threads retired by retireBusyThreads on fresh threads', async () => {
    const pool = new ScoringPool({ threads: 2, retries: 1, taskTimeoutMs: 60_000, faults });
    try {
      const model = scoringModel('m', onnx);
      await Promise.all([pool.score(model, probe.data.slice(0, D), 1, D), pool.score(model, probe.data.slice(0, D), 1, D)]);
      faults.inject('stall', 2);
      const first = pool.score(model, probe.data.slice(0, 4 * D), 4, D);
      const second = pool.score(model, probe.data.slice(4 * D, 8 * D), 4, D);
      let retired = 0;
      while (retired < 2) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        retired += pool.retireBusyThreads();
      }
      expectReference(await first);
      expectReference(await second, 4);
      expect(pool.stats).toMatchObject({ retiredThreads: 2, retiredInNative: 2, retriedTasks: 2, failedTasks: 0 });
    } finally {
      await pool.destroy();
    }
  });

  it('does not end a running thread when its caller gives up, and destroy() waits for its native call', async () => {
    const pool = new ScoringPool({ threads: 1, taskTimeoutMs: 60_000, faults });
    const controller = new AbortController();
    faults.inject('stall');
    const pending = pool.score(scoringModel('m', onnx), probe.data.slice(0, D), 1, D, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('socket closed')), 300);
    await expect(pending).rejects.toThrow('socket closed');
    expect(pool.stats).toMatchObject({ retiredThreads: 0, inFlight: 1 });
    await pool.destroy();
    expect(pool.stats.inFlight).toBe(0);
  });

  it('never stops a thread while it loads onnxruntime: close() waits for the load, then stops it', async () => {
    // Stopping a thread inside the binding's start-up aborts the whole process (native-loads.ts).
    const hold = new Int32Array(new SharedArrayBuffer(4));
    const pool = new ScoringPool({ threads: 2, loadHold: hold });
    await until(() => pool.stats.loadingThreads === 2);
    let closed = false;
    const closing = pool.close().then(() => (closed = true));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(closed).toBe(false);
    expect(pool.stats.loadingThreads).toBe(2);
    release(hold);
    await closing;
    expect(pool.stats).toMatchObject({ loadingThreads: 0, threads: 0 });
  });

  it('scores a task sent while its thread still loads onnxruntime once the load is done', async () => {
    const hold = new Int32Array(new SharedArrayBuffer(4));
    const pool = new ScoringPool({ threads: 1, loadHold: hold });
    try {
      await until(() => pool.stats.loadingThreads === 1);
      const pending = pool.score(scoringModel('m', onnx), probe.data.slice(0, 4 * D), 4, D);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(pool.stats.completedTasks).toBe(0);
      release(hold);
      expectReference(await pending);
    } finally {
      release(hold);
      await pool.close();
    }
  });

  it('takes planted faults only through its options', () => {
    expect(() => new ScoringPool({ threads: 1, faults: { take: () => 'exit' } as unknown as ScoringFaults })).toThrow(
      new TypeError('options.faults must be a ScoringFaults or undefined'),
    );
    expect(() => new ScoringPool({ threads: 1, loadHold: new Int32Array(1) })).toThrow(
      new TypeError('options.loadHold must be an Int32Array over a SharedArrayBuffer, or undefined'),
    );
  });
});

describe('ScoringPool options', () => {
  it.each([
    [{ threads: 0 }, 'options.threads must be an integer >= 1, got 0'],
    [{ maxSessionsPerWorker: 1.5 }, 'options.maxSessionsPerWorker must be an integer >= 1, got 1.5'],
    [{ maxBatch: 0 }, 'options.maxBatch must be an integer >= 1, got 0'],
    [{ maxQueue: -1 }, 'options.maxQueue must be an integer >= 0, got -1'],
    [{ taskTimeoutMs: 0 }, 'options.taskTimeoutMs must be an integer >= 1, got 0'],
    [{ retries: -1 }, 'options.retries must be an integer >= 0, got -1'],
  ] as [Partial<ScoringPoolOptions>, string][])('names the bad option %j', (options, message) => {
    expect(() => new ScoringPool(options)).toThrow(new TypeError(message));
  });
});

describe('ScoringPool compiled to JavaScript', () => {
  const root = resolve(import.meta.dirname, '../..');
  let out: string;
  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'vigil-pool-'));
    await writeFile(join(out, 'package.json'), '{"type":"module"}');
    await symlink(join(root, 'node_modules'), join(out, 'node_modules'));
  });
  afterAll(async () => {
    await rm(out, { recursive: true, force: true });
  });

  it('finds its .js worker and scores without tsx', async () => {
    const tsc = join(root, 'node_modules/.bin/tsc');
    const flags = [
      '--outDir',
      out,
      '--rootDir',
      root,
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--target',
      'es2022',
    ];
    const more = [
      '--rewriteRelativeImportExtensions',
      '--allowImportingTsExtensions',
      '--verbatimModuleSyntax',
      '--skipLibCheck',
      '--types',
      'node',
    ];
    await run(
      tsc,
      [
        '--ignoreConfig',
        ...flags,
        ...more,
        join(root, 'src/biometrics/scoring-pool.ts'),
        join(root, 'workers/scoring-worker.ts'),
      ],
      { cwd: root },
    );
    const model = Buffer.from(onnx).toString('base64');
    const features = Array.from(probe.data.subarray(0, 3 * D));
    const script = `
      import { ScoringPool, scoringModel } from './src/biometrics/scoring-pool.js';
      const pool = new ScoringPool({ threads: 1 });
      const scores = await pool.score(scoringModel('m', Buffer.from('${model}', 'base64')), Float32Array.from(${JSON.stringify(features)}), 3, ${D});
      console.log(JSON.stringify(Array.from(scores)));
      await pool.close();`;
    await writeFile(join(out, 'check.mjs'), script);
    const { stdout } = await run(process.execPath, ['check.mjs'], { cwd: out, env: { ...process.env, NODE_OPTIONS: '' } });
    const scores = JSON.parse(stdout.trim()) as number[];
    expectReference(Float32Array.from(scores));
  }, 60_000);
});
