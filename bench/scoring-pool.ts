/**
 * Windows scored per second through the Piscina scoring pool against raw in-process
 * onnxruntime-node at the same batch size (the ceiling), with task latency percentiles
 * (HDR histogram), process CPU time (all threads) and RSS. Medians over rounds. Ends with the
 * cost of feature extraction per window, for scale.
 *
 *   npx tsx bench/scoring-pool.ts [--rounds 5] [--seconds 2] [--batches 16,32,64] [--detector logistic-cohort]
 *
 * Raw is measured two ways: one run in flight (one core, what the event loop could do itself)
 * and `threads` runs in flight on one session (onnxruntime-node runs them on libuv threads, so
 * this is the best in-process figure). The pool keeps 4 tasks per thread in flight.
 */
import { availableParallelism, cpus, release } from 'node:os';
import { parseArgs } from 'node:util';
import * as hdr from 'hdr-histogram-js';
import * as ort from 'onnxruntime-node';
import { DETECTOR_NAMES, type DetectorName } from '../protocol/biometrics.ts';
import { trainDetector } from '../src/biometrics/detectors/index.ts';
import { syntheticPeople } from '../src/biometrics/detectors/test-data.ts';
import { FeatureExtractor } from '../src/biometrics/features/feature-extractor.ts';
import { sampleFeatureSpec } from '../src/biometrics/features/feature-spec.ts';
import { exportDetector } from '../src/biometrics/onnx/export-detector.ts';
import { ONNX_INPUT } from '../src/biometrics/onnx/graph-io.ts';
import { SESSION_OPTIONS } from '../src/biometrics/onnx/session-options.ts';
import { ScoringPool, scoringModel } from '../src/biometrics/scoring-pool.ts';
import { loadAverage, medianRound, packageVersion } from './bench-env.ts';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '2' },
    batches: { type: 'string', default: '16,32,64' },
    detector: { type: 'string', default: 'logistic-cohort' },
  },
});
const rounds = Number(args.rounds);
const seconds = Number(args.seconds);
const batches = args.batches.split(',').map(Number);
const detector = args.detector as DetectorName;
if (!DETECTOR_NAMES.includes(detector)) throw new Error(`--detector must be one of ${DETECTOR_NAMES.join(', ')}`);
const threads = availableParallelism();

// A model of the production shape: the default motion spec (3 axes at 20 Hz → D features).
const D = sampleFeatureSpec({ rate: 20, channels: ['x', 'y', 'z'] }).names.length;
const [owner, ...cohort] = syntheticPeople(13, D, 60, 2024);
const onnx = exportDetector(trainDetector(detector, { genuine: owner!, cohort }), D);
const pool = syntheticPeople(1, D, 4096, 7)[0]!.data;

interface Round {
  windowsPerSecond: number;
  cpuCores: number;
  cpuMicrosPerWindow: number;
  rssMb: number;
  p50: number;
  p99: number;
  p999: number;
}

function batchOf(n: number, seq: number): Float32Array {
  const offset = ((seq * n) % (4096 - n)) * D;
  return pool.slice(offset, offset + n * D); // a fresh buffer per task, as the micro-batcher makes
}

/** Keeps `inFlight` calls of `task` running for `seconds`; returns throughput, CPU, latency. */
async function measure(inFlight: number, n: number, task: (batch: Float32Array) => Promise<unknown>): Promise<Round> {
  const histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
  const deadline = performance.now() + seconds * 1000;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let windows = 0;
  let seq = 0;
  let rss = 0;
  const lane = async () => {
    while (performance.now() < deadline) {
      const batch = batchOf(n, seq++);
      const start = performance.now();
      await task(batch);
      histogram.recordValue(Math.max(1, Math.round((performance.now() - start) * 1000)));
      windows += n;
      if ((seq & 255) === 0) rss = Math.max(rss, process.memoryUsage.rss());
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  rss = Math.max(rss, process.memoryUsage.rss());
  return {
    windowsPerSecond: windows / elapsed,
    cpuCores: cpuSeconds / elapsed,
    cpuMicrosPerWindow: (cpuSeconds * 1e6) / windows,
    rssMb: rss / 2 ** 20,
    p50: histogram.getValueAtPercentile(50),
    p99: histogram.getValueAtPercentile(99),
    p999: histogram.getValueAtPercentile(99.9),
  };
}

async function main(): Promise<void> {
  console.log(`scoring throughput — ${detector}, D=${D}, ${rounds} rounds × ${seconds} s, medians`);
  console.log(
    `machine: ${cpus()[0]?.model ?? 'unknown'} × ${threads} cores, Linux ${release()}; node ${process.version}, ` +
      `onnxruntime-node ${packageVersion('onnxruntime-node')}, piscina ${packageVersion('piscina')}, pool threads ${threads}, ort intra/inter-op threads 1/1`,
  );
  // Other processes on the machine skew every figure; say how busy it was.
  console.log(`load average at start: ${loadAverage()}`);

  const session = await ort.InferenceSession.create(onnx, SESSION_OPTIONS);
  const raw = (n: number) => (batch: Float32Array) => session.run({ [ONNX_INPUT]: new ort.Tensor('float32', batch, [n, D]) });
  const scoring = new ScoringPool({ threads, maxBatch: Math.max(64, ...batches) });
  const model = scoringModel(`bench:${detector}`, onnx);
  const pooled = (n: number) => (batch: Float32Array) => scoring.score(model, batch, n, D);

  // Warm up: JIT, sessions in every worker.
  await measure(1, 32, raw(32));
  await measure(threads * 4, 32, pooled(32));

  const modes: [string, number, (n: number) => (batch: Float32Array) => Promise<unknown>][] = [
    ['raw, 1 in flight', 1, raw],
    [`raw, ${threads} in flight`, threads, raw],
    [`pool, ${threads * 4} in flight`, threads * 4, pooled],
  ];
  console.log(
    '\nbatch  mode                    windows/s   CPU cores  CPU µs/window  task p50 µs  p99 µs  p99.9 µs  RSS MB  pool/raw-best',
  );
  for (const n of batches) {
    const results = new Map<string, Round>();
    for (const [label, inFlight, make] of modes) {
      const rs: Round[] = [];
      for (let r = 0; r < rounds; r++) rs.push(await measure(inFlight, n, make(n)));
      results.set(label, medianRound(rs));
    }
    const best = Math.max(...[...results].filter(([k]) => k.startsWith('raw')).map(([, r]) => r.windowsPerSecond));
    for (const [label, r] of results) {
      const ratio = label.startsWith('pool') ? `${((r.windowsPerSecond / best) * 100).toFixed(0)}%` : '';
      console.log(
        `${String(n).padStart(5)}  ${label.padEnd(22)} ${r.windowsPerSecond.toFixed(0).padStart(10)}  ${r.cpuCores.toFixed(2).padStart(9)}  ` +
          `${r.cpuMicrosPerWindow.toFixed(2).padStart(13)}  ${String(r.p50).padStart(11)}  ${String(r.p99).padStart(6)}  ${String(r.p999).padStart(8)}  ` +
          `${r.rssMb.toFixed(0).padStart(6)}  ${ratio.padStart(13)}`,
      );
    }
  }

  // Single-task latency: what one task costs end to end when nothing else is queued.
  const single = await measure(1, 32, pooled(32));
  const singleRaw = await measure(1, 32, raw(32));
  console.log(
    `\nunloaded latency of one 32-window task: pool p50 ${single.p50} µs vs raw p50 ${singleRaw.p50} µs ` +
      `(pool overhead ≈ ${single.p50 - singleRaw.p50} µs per task, ${((single.p50 - singleRaw.p50) / 32).toFixed(1)} µs per window)`,
  );
  // For scale: the feature extraction that precedes scoring, on the same thread as the socket path.
  const spec = sampleFeatureSpec({ rate: 20, channels: ['x', 'y', 'z'] });
  const extractor = new FeatureExtractor(spec);
  const samples = Float32Array.from({ length: 3 * 4000 }, (_, i) => Math.sin(i / 7) * 9.8 + ((i * 7919) % 13) / 13);
  const out = new Float32Array(extractor.dimension);
  const featureRounds: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    let w = 0;
    while (performance.now() - t0 < seconds * 500)
      for (let k = 0; k < 100; k++, w++) extractor.extract(samples, (w * 25) % 3900, out);
    featureRounds.push(((performance.now() - t0) * 1000) / w);
  }
  featureRounds.sort((a, b) => a - b);
  console.log(
    `feature extraction (${spec.windowSamples}-sample windows, 3 axes → ${extractor.dimension} features): ` +
      `${featureRounds[Math.floor(rounds / 2)]?.toFixed(1)} µs per window on one thread`,
  );
  console.log(`load average at end: ${loadAverage()}`);
  await scoring.close();
  await session.release();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
