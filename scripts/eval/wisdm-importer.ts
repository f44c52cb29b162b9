/**
 * The only code that knows the WISDM 2019 smartwatch layout (shared/data/wisdm-watch-dev):
 * one file per subject `data_<subject>_accel_watch.txt`, lines `subject,activity,x,y,z;`,
 * 20 Hz, consecutive samples, no timestamps. Everything downstream sees plain SampleSets.
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

export async function importWisdm(dir: string): Promise<Recording[]> {
  const files = (await readdir(dir)).filter((f) => FILE.test(f)).sort();
  if (files.length === 0) throw new Error(`no data_<subject>_accel_watch.txt files in ${dir}`);
  const recordings: Recording[] = [];
  for (const file of files) {
    const text = await readFile(join(dir, file), 'utf8');
    const byActivity = new Map<string, number[]>();
    let subject = '';
    text.split('\n').forEach((raw, i) => {
      const line = raw.trim().replace(/;$/, '');
      if (line === '') return;
      const cells = line.split(',');
      if (cells.length !== 5) throw new Error(`${file}:${i + 1}: expected subject,activity,x,y,z`);
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
