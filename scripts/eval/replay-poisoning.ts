/**
 * Can a thief who streams on the owner's session make the owner's own fresh windows read `replay`
 * (trust to the floor, a step-up) by filling the account's index with the owner's kind of motion?
 *
 *   npx tsx scripts/eval/replay-poisoning.ts [--data DIR]
 *
 * Per person: the index holds the first 60 % of their walk (the enrolment) plus what a thief
 * streamed: resampled copies of that walk (speed ×0.85…×1.15, a few phases each: edits the
 * fingerprints do not catch and the model accepts, eval replay-evasions.ts), or other people's
 * walks and activities (motion of any kind). The rest of the person's walk, never streamed, is
 * then checked: the share of its windows that read `replay`, until the index reaches its cap.
 */
import { parseArgs } from 'node:util';
import { fingerprints } from '../../src/biometrics/assurance/replay-fingerprint.ts';
import { MATCH_SHARE, MIN_MOTION_QUANTA, repeatsKnown } from '../../src/biometrics/assurance/replay-index.ts';
import { ConfigSchema } from '../../src/config/schema.ts';
import { importWisdm } from './wisdm-importer.ts';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string', default: new URL('../../../shared/data/wisdm-watch-dev', import.meta.url).pathname },
  },
});

const C = 3;
const WINDOW = 50;
const HOP = 25;
const CAP = 250_000;
const QUANTUM = ConfigSchema.properties.VIGIL_CV_REPLAY_QUANTUM.default as number;
const SHAPE = { quantum: QUANTUM, minMotion: QUANTUM * MIN_MOTION_QUANTA };
const rows = (v: Float32Array) => v.length / C;

function stretch(v: Float32Array, factor: number, phase: number): Float32Array {
  const n = Math.floor((rows(v) - 2 - phase) / factor);
  const out = new Float32Array(n * C);
  for (let r = 0; r < n; r++) {
    const t = phase + r * factor;
    const i = Math.floor(t);
    const f = t - i;
    for (let c = 0; c < C; c++) out[r * C + c] = v[i * C + c]! * (1 - f) + v[(i + 1) * C + c]! * f;
  }
  return out;
}

function falseReplays(known: Set<number>, v: Float32Array): number {
  let windows = 0;
  let replays = 0;
  for (let at = 0; at + WINDOW <= rows(v); at += HOP, windows++) {
    if (repeatsKnown(known, fingerprints(v.subarray(at * C, (at + WINDOW) * C), WINDOW, C, SHAPE), MATCH_SHARE)) replays++;
  }
  return windows ? replays / windows : 0;
}

const recordings = await importWisdm(args.data);
const walks = recordings.filter((r) => r.activity === 'A');
const head = (v: Float32Array) => v.subarray(0, Math.floor(rows(v) * 0.6) * C);
const tail = (v: Float32Array) => v.subarray(Math.floor(rows(v) * 0.6) * C);
const add = (known: Set<number>, v: Float32Array) => {
  for (const h of fingerprints(v, rows(v), C, SHAPE)) if (known.size < CAP) known.add(h);
};

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
console.log(`quantum ${QUANTUM}, match share ${MATCH_SHARE}, ${walks.length} people\n`);
console.log('| thief streamed | index size (mean) | fresh windows read `replay`: mean | worst person |');
console.log('|---|---:|---:|---:|');
const factors = Array.from({ length: 61 }, (_, k) => 0.85 + k * 0.005);
for (const phases of [1, 4, 16]) {
  const shares: number[] = [];
  const sizes: number[] = [];
  for (const walk of walks) {
    const enrolled = head(walk.samples.data);
    const known = new Set<number>();
    add(known, enrolled);
    for (const factor of factors) for (let p = 0; p < phases; p++) add(known, stretch(enrolled, factor, p / phases));
    sizes.push(known.size);
    shares.push(falseReplays(known, tail(walk.samples.data)));
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(
    `| own enrolled walk resampled ×0.85…×1.15 (${factors.length} speeds × ${phases} phases) | ${Math.round(mean(sizes))} | ${pct(mean(shares))} | ${pct(Math.max(...shares))} |`,
  );
}
{
  const shares: number[] = [];
  const sizes: number[] = [];
  for (const walk of walks) {
    const known = new Set<number>();
    add(known, head(walk.samples.data));
    for (const r of recordings) if (r.subject !== walk.subject) add(known, r.samples.data);
    sizes.push(known.size);
    shares.push(falseReplays(known, tail(walk.samples.data)));
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(
    `| every activity of every other person (whole recordings) | ${Math.round(mean(sizes))} | ${pct(mean(shares))} | ${pct(Math.max(...shares))} |`,
  );
}
