/**
 * The only code that knows the Keystroke100 layout (Loy, Lai & Lim 2007): one file per person,
 * `user<N>.tsv`, one typed password per line, tab-separated key-press latencies in ms, no
 * header. Everything downstream sees plain feature rows (one row = one typing of the password).
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { matrix, type FeatureMatrix } from '../../src/biometrics/samples.ts';

export interface KeystrokeSubject {
  subject: string;
  /** One row per typing, in the order typed. */
  rows: FeatureMatrix;
}

const FILE = /^user(\d+)\.tsv$/;

/** True when `dir` holds Keystroke100 files (so the harness can tell the datasets apart). */
export async function isKeystrokeDir(dir: string): Promise<boolean> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  return entries.some((f) => FILE.test(f));
}

/** Column names of the rows: latency between consecutive key presses. */
export function keystrokeColumns(d: number): string[] {
  return Array.from({ length: d }, (_, i) => `pp${i + 1}`);
}

export async function importKeystroke(dir: string): Promise<KeystrokeSubject[]> {
  const files = (await readdir(dir))
    .filter((f) => FILE.test(f))
    .sort((a, b) => Number(FILE.exec(a)?.[1]) - Number(FILE.exec(b)?.[1]));
  if (files.length === 0) throw new Error(`no user<N>.tsv files in ${dir} (Keystroke100 layout)`);
  const subjects: KeystrokeSubject[] = [];
  let width = 0;
  for (const file of files) {
    const values: number[] = [];
    let n = 0;
    (await readFile(join(dir, file), 'utf8')).split('\n').forEach((raw, i) => {
      const line = raw.trim();
      if (line === '') return;
      const cells = line.split(/\t/).map(Number);
      if (!cells.every(Number.isFinite)) throw new Error(`${file}:${i + 1}: non-numeric latency`);
      width ||= cells.length;
      if (cells.length !== width) throw new Error(`${file}:${i + 1}: ${cells.length} latencies, expected ${width}`);
      values.push(...cells);
      n++;
    });
    subjects.push({ subject: FILE.exec(file)?.[1] as string, rows: matrix(Float32Array.from(values), n, width) });
  }
  return subjects;
}
