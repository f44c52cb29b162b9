import { existsSync } from 'node:fs';
import { importWisdm } from '../eval/wisdm-importer.ts';

/**
 * What streaming devices send in `npm run load -- --verify`: per subject, an enrolment recording
 * (uploaded once to train the account's model) and a disjoint recording replayed in a loop on
 * the socket. Real data comes from the WISDM development set (walking, 20 Hz, x y z) through
 * the evaluation importer; without it, synthetic gait-like signals stand in.
 */
export interface ReplaySource {
  readonly kind: 'wisdm' | 'synthetic';
  readonly rate: number;
  readonly channels: readonly string[];
  /** Account i is enrolled with, and streams, subjects[i mod subjects.length]. */
  readonly subjects: readonly string[];
  /** Interleaved samples used to enrol `subject`. */
  enrolment(subject: string): Float32Array;
  /** Interleaved samples the subject's devices stream (never used for enrolment). */
  stream(subject: string): Float32Array;
}

const ENROL_SHARE = 0.6;

function split(data: Float32Array, c: number): [Float32Array, Float32Array] {
  const samples = data.length / c;
  const cut = Math.floor(samples * ENROL_SHARE) * c;
  return [data.subarray(0, cut), data.subarray(cut)];
}

/** The walking recordings of the WISDM development set, 60 % to enrol, 40 % to stream. */
export async function wisdmSource(dir: string): Promise<ReplaySource> {
  const recordings = (await importWisdm(dir)).filter((r) => r.activity === 'A');
  const parts = new Map(recordings.map((r) => [r.subject, split(r.samples.data, 3)] as const));
  const subjects = [...parts.keys()].sort();
  return {
    kind: 'wisdm',
    rate: 20,
    channels: ['x', 'y', 'z'],
    subjects,
    enrolment: (subject) => parts.get(subject)![0],
    stream: (subject) => parts.get(subject)![1],
  };
}

/**
 * Deterministic gait-like signals: each subject has its own cadence, amplitude and axis mix plus
 * seeded noise, 120 s each. Good enough to exercise the pipeline; accuracy needs real data.
 */
export function syntheticSource(rate: number, channels: number, subjectCount = 16): ReplaySource {
  const names = Array.from({ length: channels }, (_, c) => (channels === 3 ? ['x', 'y', 'z'][c]! : `c${c}`));
  const seconds = 120;
  const data = new Map<string, Float32Array>();
  const subjects = Array.from({ length: subjectCount }, (_, s) => `synthetic-${s}`);
  subjects.forEach((subject, s) => {
    let seed = 0x9e3779b9 ^ (s * 2654435761);
    const noise = () => {
      seed = (seed * 1664525 + 1013904223) >>> 0;
      return seed / 2 ** 32 - 0.5;
    };
    const cadence = 1.6 + 0.08 * s;
    const values = new Float32Array(seconds * rate * channels);
    for (let i = 0; i < seconds * rate; i++) {
      const t = i / rate;
      for (let c = 0; c < channels; c++) {
        const phase = (c + 1) * (0.7 + 0.05 * s);
        values[i * channels + c] =
          (2 + 0.3 * s) * Math.sin(2 * Math.PI * cadence * t + phase) +
          (0.5 + 0.1 * c) * Math.sin(4 * Math.PI * cadence * t) +
          (c === 1 ? 9.81 : 0) +
          0.6 * noise();
      }
    }
    data.set(subject, values);
  });
  return {
    kind: 'synthetic',
    rate,
    channels: names,
    subjects,
    enrolment: (subject) => split(data.get(subject)!, channels)[0],
    stream: (subject) => split(data.get(subject)!, channels)[1],
  };
}

/** WISDM when the directory holds it (3 channels at 20 Hz are then required), synthetic otherwise. */
export async function replaySource(dir: string, rate: number, channels: number): Promise<ReplaySource> {
  if (existsSync(dir)) {
    if (rate !== 20 || channels !== 3) {
      throw new Error(`--verify with the WISDM data (${dir}) streams what was recorded: use --rate 20 --channels 3`);
    }
    return wisdmSource(dir);
  }
  return syntheticSource(rate, channels);
}
