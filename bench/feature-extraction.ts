/**
 * CPU per window of the feature extractor on real recordings: every window (2.5 s, 50 % hop,
 * 20 Hz × 3 axes) of every WISDM recording in WISDM_DIR (default: the test fixture), extracted
 * again and again on this thread. With `--reference`, the extractor as it was before its kernels
 * were made faster (test/support/reference-feature-extractor.ts), for a before/after in one run.
 *
 *   npx tsx bench/feature-extraction.ts [--rounds 5] [--windows 50000]
 */
import { cpus, release } from 'node:os';
import { parseArgs } from 'node:util';
import { importWisdm } from '../scripts/eval/wisdm-importer.ts';
import { FeatureExtractor } from '../src/biometrics/features/feature-extractor.ts';
import { sampleFeatureSpec } from '../src/biometrics/features/feature-spec.ts';
import { ReferenceFeatureExtractor } from '../test/support/reference-feature-extractor.ts';
import { WISDM_DIR } from '../test/support/wisdm.ts';
import { loadAverage } from './bench-env.ts';

const { values: args } = parseArgs({
  options: { rounds: { type: 'string', default: '5' }, windows: { type: 'string', default: '50000' } },
});
const rounds = Number(args.rounds);
const perRound = Number(args.windows);

const spec = sampleFeatureSpec({ rate: 20, channels: ['x', 'y', 'z'], modality: 'motion' });
const starts: Array<{ data: Float32Array; start: number }> = [];
for (const { samples } of await importWisdm(WISDM_DIR)) {
  for (let start = 0; start + spec.windowSamples <= samples.length; start += spec.hopSamples)
    starts.push({ data: samples.data, start });
}
const out = new Float32Array(spec.names.length);

function microsPerWindow(extractor: { extract(src: Float32Array, start: number, out: Float32Array): void }): number {
  const before = process.cpuUsage();
  for (let i = 0; i < perRound; i++) {
    const w = starts[i % starts.length]!;
    extractor.extract(w.data, w.start, out);
  }
  const used = process.cpuUsage(before);
  return (used.user + used.system) / perRound;
}

console.log(`feature extraction — ${spec.names.length} features per window, ${starts.length} WISDM windows from ${WISDM_DIR}`);
console.log(
  `machine: ${cpus()[0]?.model ?? 'unknown'}, Linux ${release()}; node ${process.version}; load average ${loadAverage()}`,
);
const extractors = { current: new FeatureExtractor(spec), reference: new ReferenceFeatureExtractor(spec) };
const results: Record<keyof typeof extractors, number[]> = { current: [], reference: [] };
// Alternating rounds, the first of each discarded (JIT warm-up).
for (let r = 0; r <= rounds; r++) {
  for (const name of ['reference', 'current'] as const) {
    const micros = microsPerWindow(extractors[name]);
    if (r > 0) results[name].push(micros);
  }
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
for (const name of ['reference', 'current'] as const) {
  console.log(
    `${name.padEnd(9)} ${median(results[name]).toFixed(2)} µs CPU per window (median of ${rounds} rounds of ${perRound})`,
  );
}
