import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VerificationResult } from '../../protocol/biometrics.ts';
import { buildBackground } from '../../scripts/eval/background-builder.ts';
import { loadBackground } from '../../src/biometrics/background/background-population.ts';
import { extractWindows } from '../../src/biometrics/features/extract-windows.ts';
import { sampleFeatureSpec } from '../../src/biometrics/features/feature-spec.ts';
import type { SampleSet } from '../../src/biometrics/samples.ts';
import type { TestGateway } from '../support/gateway.ts';
import { enrolCsv, newUser, send, slice, startBiometricGateway, toCsv, walking } from './support.ts';

// Cold start over real HTTP: a fresh gateway (empty database) with the shipped background
// population. The people enrolled and verified here (1600–1605) are not in the background.
let gw: TestGateway;
let walks: Map<string, SampleSet>;
const enrolPart = (s: string) => slice(walks.get(s)!, 0, 1500);
const testPart = (s: string) => {
  const all = walks.get(s)!;
  return slice(all, all.length - 600, all.length);
};

beforeAll(async () => {
  gw = await startBiometricGateway({ VIGIL_BIOMETRIC_BACKGROUND: 'builtin' });
  walks = await walking();
});
afterAll(() => gw.close());

describe('cold start with the background population', () => {
  it("the deployment's first account trains a cohort model, accepts its owner and rejects five strangers", async () => {
    const owner = await newUser(gw.url);
    const view = await enrolCsv(gw, owner, enrolPart('1600'), 'rate=20&modality=motion');
    expect(view.status).toBe('ready');
    // No other account exists: every cohort member is from the background.
    expect(view.metrics).toMatchObject({ cohortMembers: 13, thresholdRule: 'eer' });
    const model = await send<{ detector: string; oneClassFallback: boolean }>(gw.url, 'GET', '/v1/biometrics/model', owner);
    expect(model.body).toMatchObject({ detector: 'logistic-cohort', oneClassFallback: false });

    const verify = (samples: SampleSet) =>
      send<VerificationResult>(gw.url, 'POST', '/v1/biometrics/verify', owner, toCsv(samples), 'text/csv');
    expect((await verify(testPart('1600'))).body.verdict).toBe('accept');
    for (const stranger of ['1601', '1602', '1603', '1604', '1605'])
      expect((await verify(testPart(stranger))).body.verdict, `stranger ${stranger}`).toBe('reject');
  });
});

describe('the shipped background population', () => {
  it('is for the default motion signature, excludes the people tests verify, and rebuilds byte for byte from the fixture', async () => {
    const shipped = (await loadBackground('builtin'))!;
    const first = walks.get('1613')!;
    const motion = sampleFeatureSpec({ rate: first.rate, channels: first.channels, modality: 'motion' });
    expect(shipped.spec).toEqual(motion);
    const subjects = shipped.source['subjects'] as string[];
    expect(subjects).toHaveLength(13);
    // Tests assert accuracy on 1600–1612 only; none of them may be in the background.
    for (let s = 1600; s <= 1612; s++) expect(subjects).not.toContain(String(s));
    const rebuilt = buildBackground(
      subjects.map((s) => ({ subject: s, windows: extractWindows(walks.get(s)!, motion).features })),
      motion,
      shipped.source['windowsPerMember'] as number,
      shipped.id,
    );
    expect(rebuilt.members).toEqual(shipped.members);
  });
});
