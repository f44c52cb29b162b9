/**
 * Micro-batches of the socket path through the scoring pool against the same work done
 * in-process: windows of raw samples → features → one onnxruntime run per distinct model, for
 * batch sizes and model mixes a live gateway produces. Windows scored per second, CPU per window,
 * batch latency (HDR), medians of rounds; the ratio pool / in-process is the pool's efficiency.
 *
 *   npx tsx bench/continuous-batches.ts [--rounds 5] [--seconds 2] [--batches 16,32,64] [--models 1,8,64] [--threads N]
 *
 * "in-process" calls the worker's own batch scorer on this thread (features and onnxruntime
 * here, nothing posted): the ceiling of one thread. The pool keeps 4 batches per thread in
 * flight, with features computed in the workers (VIGIL_CV_FEATURES=worker) or on this thread
 * before posting (=main).
 */
import { availableParallelism, cpus, release } from 'node:os';
import { parseArgs } from 'node:util';
import * as hdr from 'hdr-histogram-js';
import * as ort from 'onnxruntime-node';
import { batchModel, type BatchModel, type WindowBatchTask } from '../src/biometrics/continuous/window-batch.ts';
import { scoreWindowBatch } from '../src/biometrics/continuous/window-batch-scorer.ts';
import { WindowSlab } from '../src/biometrics/continuous/window-slab.ts';
import { trainDetector } from '../src/biometrics/detectors/index.ts';
import { syntheticPeople } from '../src/biometrics/detectors/test-data.ts';
import { FeatureExtractor } from '../src/biometrics/features/feature-extractor.ts';
import { sampleFeatureSpec } from '../src/biometrics/features/feature-spec.ts';
import { exportDetector } from '../src/biometrics/onnx/export-detector.ts';
import { SESSION_OPTIONS } from '../src/biometrics/onnx/session-options.ts';
import { ScoringPool, scoringModel } from '../src/biometrics/scoring-pool.ts';
import { SessionCache } from '../src/biometrics/session-cache.ts';
import { loadAverage, medianRound, packageVersion } from './bench-env.ts';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '2' },
    batches: { type: 'string', default: '16,32,64' },
    models: { type: 'string', default: '1,8,64' },
    threads: { type: 'string', default: String(Math.max(1, availableParallelism() - 1)) },
  },
});
const rounds = Number(args.rounds);
const seconds = Number(args.seconds);
const batchSizes = args.batches.split(',').map(Number);
const modelMixes = args.models.split(',').map(Number);
const threads = Number(args.threads);

const spec = sampleFeatureSpec({ rate: 20, channels: ['x', 'y', 'z'] });
const D = spec.names.length;
const C = 3;
const W = spec.windowSamples;
const maxModels = Math.max(...modelMixes);
// Distinct logistic-cohort models, as distinct users have.
const models: BatchModel[] = Array.from({ length: maxModels }, (_, k) => {
  const [owner, ...cohort] = syntheticPeople(6, D, 60, 1000 + k);
  return batchModel(
    scoringModel(`bench-user-${k}:1`, exportDetector(trainDetector('logistic-cohort', { genuine: owner!, cohort }), D)),
    spec,
  );
});
// Gait-like raw samples to cut windows from.
const raw = Float32Array.from({ length: 4000 * C }, (_, i) => Math.sin(i / 7) * 9.8 + ((i * 7919) % 13) / 13);

interface Round {
  windowsPerSecond: number;
  cpuMicrosPerWindow: number;
  p50: number;
  p99: number;
}

/** A slab filled with `n` windows spread over `m` models, as rows of raw samples or of features. */
function fill(n: number, m: number, rows: 'samples' | 'features', extractor: FeatureExtractor): WindowSlab {
  const slab = new WindowSlab(n, n * Math.max(W * C, D), rows);
  const sink = { batchMark: 0, scored() {}, failed() {} };
  for (let i = 0; i < n; i++) {
    const width = rows === 'samples' ? W * C : D;
    const offset = slab.claim(sink, models[i % m]!, i, 0, width, rows === 'samples' ? C : 1, 1);
    const start = (i * 37) % (4000 - W);
    if (rows === 'samples') slab.values.set(raw.subarray(start * C, (start + W) * C), offset);
    else extractor.extract(raw, start, slab.values, offset);
  }
  return slab;
}

async function measure(inFlight: number, n: number, task: () => Promise<unknown>): Promise<Round> {
  const histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
  const deadline = performance.now() + seconds * 1000;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let windows = 0;
  const lane = async () => {
    while (performance.now() < deadline) {
      const start = performance.now();
      await task();
      histogram.recordValue(Math.max(1, Math.round((performance.now() - start) * 1000)));
      windows += n;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return {
    windowsPerSecond: windows / elapsed,
    cpuMicrosPerWindow: (cpu.user + cpu.system) / windows,
    p50: histogram.getValueAtPercentile(50),
    p99: histogram.getValueAtPercentile(99),
  };
}

async function main(): Promise<void> {
  console.log(
    `socket micro-batches — logistic-cohort models, D=${D}, ${W}-sample windows × ${C} axes, ${rounds} rounds × ${seconds} s, medians`,
  );
  console.log(
    `machine: ${cpus()[0]?.model ?? 'unknown'} × ${availableParallelism()} cores, Linux ${release()}; node ${process.version}, ` +
      `onnxruntime-node ${packageVersion('onnxruntime-node')}, piscina ${packageVersion('piscina')}; pool threads ${threads}`,
  );
  console.log(`load average at start: ${loadAverage()}`);

  const extractor = new FeatureExtractor(spec);
  const sessions = new SessionCache<ort.InferenceSession>(1024, (s) => s.release());
  const local = (task: WindowBatchTask) =>
    scoreWindowBatch(task, (ref) =>
      sessions.get(ref.key, () => ort.InferenceSession.create(new Uint8Array(ref.bytes).slice(), SESSION_OPTIONS)),
    );
  const pool = new ScoringPool({ threads, maxSessionsPerWorker: 1024 });

  // Warm up: JIT, every session in every worker.
  for (let i = 0; i < 8; i++) {
    await local(fill(64, maxModels, 'samples', extractor).seal());
    await Promise.all(
      Array.from({ length: threads * 4 }, () => pool.scoreWindowBatch(fill(64, maxModels, 'samples', extractor).seal())),
    );
  }

  console.log(
    '\nbatch  models  mode                             windows/s  CPU µs/window  batch p50 µs  p99 µs  pool/in-process',
  );
  for (const n of batchSizes) {
    for (const m of modelMixes) {
      if (m > n) continue;
      const slabs = {
        samples: Array.from({ length: threads * 4 }, () => fill(n, m, 'samples', extractor)),
        features: Array.from({ length: threads * 4 }, () => fill(n, m, 'features', extractor)),
      };
      const modes: Array<[string, number, (lane: number) => () => Promise<unknown>]> = [
        ['in-process, features here', 1, () => () => local(slabs.samples[0]!.seal())],
        [`pool, features in worker`, threads * 4, (k) => () => pool.scoreWindowBatch(slabs.samples[k]!.seal())],
        [
          `pool, features on main`,
          threads * 4,
          (k) => () => {
            // What VIGIL_CV_FEATURES=main costs this thread: extract every window, then post.
            const slab = slabs.features[k]!;
            for (let i = 0; i < n; i++) extractor.extract(raw, (i * 37) % (4000 - W), slab.values, slab.offsets[i]);
            return pool.scoreWindowBatch(slab.seal());
          },
        ],
      ];
      let base = 0;
      for (const [label, inFlight, make] of modes) {
        const rs: Round[] = [];
        for (let r = 0; r < rounds; r++) {
          let lane = 0;
          const tasks = Array.from({ length: inFlight }, () => make(lane++));
          let next = 0;
          rs.push(await measure(inFlight, n, () => tasks[next++ % inFlight]!()));
        }
        const r = medianRound(rs);
        if (label.startsWith('in-process')) base = r.windowsPerSecond;
        const ratio = label.startsWith('pool') ? `${((r.windowsPerSecond / base) * 100).toFixed(0)}%` : '';
        console.log(
          `${String(n).padStart(5)}  ${String(m).padStart(6)}  ${label.padEnd(30)} ${r.windowsPerSecond.toFixed(0).padStart(10)}  ` +
            `${r.cpuMicrosPerWindow.toFixed(1).padStart(13)}  ${String(r.p50).padStart(12)}  ${String(r.p99).padStart(6)}  ${ratio.padStart(15)}`,
        );
      }
    }
  }
  console.log(`load average at end: ${loadAverage()}`);
  await pool.close();
  await sessions.clear();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
