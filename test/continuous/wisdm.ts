/**
 * Continuous-verification views of the walking fixture: each subject's recording is split in
 * time, the first 60 % enrols and the last 40 % is streamed (never seen in training), exactly as
 * the accuracy harness does.
 */
import { extractWindows } from '../../src/biometrics/features/extract-windows.ts';
import { sampleFeatureSpec, type FeatureSpec } from '../../src/biometrics/features/feature-spec.ts';
import { sampleSet, type SampleSet } from '../../src/biometrics/samples.ts';
import { trainModel, type ModelArtifact } from '../../src/biometrics/training.ts';
import { WISDM_DIR, walking } from '../support/wisdm.ts';

export { WISDM_DIR, walking };

export const SPEC: FeatureSpec = sampleFeatureSpec({ rate: 20, channels: ['x', 'y', 'z'], modality: 'motion' });

function part(samples: SampleSet, from: number, to: number): SampleSet {
  const c = samples.channels.length;
  const a = Math.floor(samples.length * from);
  const b = Math.floor(samples.length * to);
  return sampleSet(samples.rate, samples.channels, samples.data.slice(a * c, b * c));
}

export async function enrolmentPart(subject: string): Promise<SampleSet> {
  return part(await recording(subject), 0, 0.6);
}

/** The held-out 40 % of a subject's walking, as a stream would send it. */
export async function testPart(subject: string): Promise<SampleSet> {
  return part(await recording(subject), 0.6, 1);
}

async function recording(subject: string): Promise<SampleSet> {
  const r = (await walking()).get(subject);
  if (!r) throw new Error(`no walking recording for subject ${subject} in ${WISDM_DIR}`);
  return r;
}

/** A model of `subject` trained in-process (the default detector) against the given cohort's enrolment parts. */
export async function trainSubject(subject: string, cohort: readonly string[]): Promise<ModelArtifact> {
  const owner = extractWindows(await enrolmentPart(subject), SPEC).features;
  const cohortRows = await Promise.all(cohort.map(async (s) => extractWindows(await enrolmentPart(s), SPEC).features));
  return trainModel({ featureRows: owner, cohortRows, spec: SPEC });
}
