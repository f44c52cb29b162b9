import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importWisdm } from '../../scripts/eval/wisdm-importer.ts';
import { WISDM_DIR, walking } from '../support/wisdm.ts';

describe('WISDM data the suite stands on', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vigil-wisdm-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('ships in the repository: 26 walking recordings of about 120 s at 20 Hz', async () => {
    expect(WISDM_DIR).toMatch(/test\/fixtures\/wisdm-walking$/);
    const walks = await walking();
    expect([...walks.keys()].sort()).toEqual(Array.from({ length: 26 }, (_, i) => String(1600 + i)));
    for (const samples of walks.values()) {
      expect(samples.rate).toBe(20);
      expect(samples.channels).toEqual(['x', 'y', 'z']);
      expect(samples.length).toBeGreaterThanOrEqual(2000);
    }
  });

  it('reads the public release layout too (a timestamp column between activity and x)', async () => {
    const sub = join(dir, 'public');
    await mkdir(sub);
    await writeFile(
      join(sub, 'data_1650_accel_watch.txt'),
      '1650,A,252207918580802,-0.1,9.8,0.5;\n1650,A,252207968934806,0.2,9.7,0.4;\n1650,B,252208019288810,1,2,3;\n',
    );
    const recordings = await importWisdm(sub);
    expect(recordings.map((r) => [r.subject, r.activity, r.samples.length])).toEqual([
      ['1650', 'A', 2],
      ['1650', 'B', 1],
    ]);
    expect(Array.from(recordings[0]!.samples.data)).toEqual([-0.1, 9.8, 0.5, 0.2, 9.7, 0.4].map(Math.fround));
  });

  it('fails with a message that says what is missing and where the data comes from', async () => {
    await expect(importWisdm(join(dir, 'nowhere'))).rejects.toThrow(/nowhere does not exist: .*test\/fixtures\/wisdm-walking/);
    await expect(importWisdm(dir)).rejects.toThrow(/no data_<subject>_accel_watch\.txt files in .*test\/fixtures\/wisdm-walking/);
  });
});
