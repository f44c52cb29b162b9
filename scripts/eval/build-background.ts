/**
 * Builds the background-population asset for the default motion signature (x, y, z at 20 Hz,
 * default windows) from public development data, reproducibly: the same data and arguments
 * give the same file.
 *
 *   npx tsx scripts/eval/build-background.ts [--data test/fixtures/wisdm-walking] [--activity A]
 *       [--subjects 1613-1625] [--windows 40] [--out assets/background/wisdm-walking-20hz-xyz.v1.json]
 *
 * Keep the people the tests verify (1600–1612) out of it: a test that verified someone who is
 * also in the background would measure contamination, not accuracy.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BUILTIN_BACKGROUND, encodeBackground } from '../../src/biometrics/background/background-population.ts';
import { extractWindows } from '../../src/biometrics/features/extract-windows.ts';
import { sampleFeatureSpec } from '../../src/biometrics/features/feature-spec.ts';
import { buildBackground } from './background-builder.ts';
import { WISDM_ACTIVITIES, importWisdm } from './wisdm-importer.ts';
import { subjectList } from './subject-folds.ts';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string', default: 'test/fixtures/wisdm-walking' },
    activity: { type: 'string', default: 'A' },
    subjects: { type: 'string', default: '1613-1625' },
    windows: { type: 'string', default: '40' },
    out: { type: 'string', default: `assets/background/${BUILTIN_BACKGROUND}` },
  },
});

async function main(): Promise<void> {
  const wanted = subjectList(args.subjects);
  const windows = Number(args.windows);
  if (!(Number.isInteger(windows) && windows >= 10)) throw new Error('--windows must be a whole number ≥ 10');
  const recordings = (await importWisdm(resolve(args.data))).filter((r) => r.activity === args.activity && wanted.has(r.subject));
  if (recordings.length < 3)
    throw new Error(`only ${recordings.length} recordings of activity ${args.activity} for --subjects ${args.subjects}`);
  const first = recordings[0] as (typeof recordings)[number];
  const spec = sampleFeatureSpec({ rate: first.samples.rate, channels: first.samples.channels, modality: 'motion' });
  const people = recordings.map((r) => ({ subject: r.subject, windows: extractWindows(r.samples, spec).features }));
  const id = BUILTIN_BACKGROUND.replace(/\.json$/, '');
  const population = buildBackground(people, spec, windows, id, {
    dataset:
      'WISDM Smartphone and Smartwatch Activity and Biometrics Dataset (Weiss 2019, UCI ML Repository, https://archive.ics.uci.edu/dataset/507), CC BY 4.0',
    activity: `${args.activity} (${WISDM_ACTIVITIES[args.activity] ?? args.activity})`,
    subjects: people.map((p) => p.subject),
    windowsPerMember: windows,
    command: `npx tsx scripts/eval/build-background.ts --data ${relative(process.cwd(), resolve(args.data)) || '.'} --activity ${args.activity} --subjects ${args.subjects} --windows ${windows}`,
  });
  const out = resolve(args.out);
  await mkdir(dirname(out), { recursive: true });
  await writeFile(
    out,
    `${JSON.stringify(
      encodeBackground(
        population,
        people.map((p) => p.subject),
      ),
    )}\n`,
  );
  console.log(`${out}: ${population.members.length} members × ≤ ${windows} windows × ${spec.names.length} features`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
