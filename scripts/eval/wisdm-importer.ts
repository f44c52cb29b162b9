/**
 * The only code that knows the WISDM 2019 smartwatch layout (test/fixtures/wisdm-walking, or the
 * full public recordings in the same form):
 * one file per subject `data_<subject>_accel_watch.txt`, lines `subject,activity,x,y,z;` (the
 * public release's `raw/watch/accel` files also carry a timestamp column, ignored), 20 Hz,
 * consecutive samples. Everything downstream sees plain SampleSets.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { sampleSet, type SampleSet } from '../../src/biometrics/samples.ts';

export const WISDM_RATE = 20;
export const WISDM_CHANNELS = ['x', 'y', 'z'] as const;
export const WISDM_ACTIVITIES: Readonly<Record<string, string>> = {
  A: 'walking',
  B: 'jogging',
  C: 'stairs',
  D: 'sitting',
  E: 'standing',
  M: 'kicking a ball',
};

export interface Recording {
  subject: string;
  activity: string;
  samples: SampleSet;
}

const FILE = /^data_(\d+)_accel_watch\.txt$/;

/** Where the data comes from, for error messages: a missing directory must say what to do. */
const WHERE = 'the walking subset ships in test/fixtures/wisdm-walking (see its README for the public dataset)';

export async function importWisdm(dir: string): Promise<Recording[]> {
  const entries = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR')
      throw new Error(`WISDM data directory ${dir} does not exist: ${WHERE}`);
    throw error;
  });
  const files = entries.filter((f) => FILE.test(f)).sort();
  if (files.length === 0) throw new Error(`no data_<subject>_accel_watch.txt files in ${dir}: ${WHERE}`);
  const recordings: Recording[] = [];
  for (const file of files) {
    const text = await readFile(join(dir, file), 'utf8');
    const byActivity = new Map<string, number[]>();
    let subject = '';
    text.split('\n').forEach((raw, i) => {
      const line = raw.trim().replace(/;$/, '');
      if (line === '') return;
      const cells = line.split(',');
      // The public release adds a timestamp column (subject,activity,timestamp,x,y,z); samples stay consecutive.
      if (cells.length === 6) cells.splice(2, 1);
      if (cells.length !== 5)
        throw new Error(`${file}:${i + 1}: expected subject,activity,x,y,z (or subject,activity,timestamp,x,y,z)`);
      const [id, activity, ...xyz] = cells as [string, string, string, string, string];
      subject = id;
      const values = xyz.map(Number);
      if (!values.every(Number.isFinite)) throw new Error(`${file}:${i + 1}: non-numeric sample`);
      let list = byActivity.get(activity);
      if (!list) byActivity.set(activity, (list = []));
      list.push(...values);
    });
    for (const [activity, values] of [...byActivity].sort()) {
      recordings.push({ subject, activity, samples: sampleSet(WISDM_RATE, WISDM_CHANNELS, Float32Array.from(values)) });
    }
  }
  return recordings;
}
