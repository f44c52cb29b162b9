import { fileURLToPath } from 'node:url';
import { importWisdm, type Recording } from '../../scripts/eval/wisdm-importer.ts';
import type { SampleSet } from '../../src/biometrics/samples.ts';

/**
 * Real data for every biometric test: WISDM smartwatch walking recordings (x, y, z at 20 Hz),
 * shipped in test/fixtures/wisdm-walking (attributed there) and read through the evaluation
 * importer. `WISDM_DIR` points the suite at another directory in the same layout.
 */
export const WISDM_DIR = process.env.WISDM_DIR ?? fileURLToPath(new URL('../fixtures/wisdm-walking', import.meta.url));

let recordings: Promise<Recording[]> | undefined;

/** Walking (activity A) recordings by subject id ('1600' … '1625'), ~2,400 samples each. */
export async function walking(): Promise<Map<string, SampleSet>> {
  recordings ??= importWisdm(WISDM_DIR);
  const walks = (await recordings).filter((r) => r.activity === 'A');
  if (walks.length === 0) throw new Error(`no walking (activity A) recordings in ${WISDM_DIR}`);
  return new Map(walks.map((r) => [r.subject, r.samples]));
}
