import { describe, expect, it } from 'vitest';
import { syntheticPeople } from '../detectors/test-data.ts';
import { rowFeatureSpec } from '../features/feature-spec.ts';
import {
  BACKGROUND_FORMAT,
  decodeBackground,
  encodeBackground,
  loadBackground,
  withBackground,
  type BackgroundPopulation,
} from './background-population.ts';

const spec = rowFeatureSpec({ columns: ['a', 'b', 'c'] });
const people = syntheticPeople(6, 3, 12, 9);
const background: BackgroundPopulation = { format: BACKGROUND_FORMAT, id: 'test.v1', source: {}, spec, members: people.slice(2) };

describe('withBackground', () => {
  it('tops a small live cohort up to the member count, live members first', () => {
    const rows = withBackground(people.slice(0, 2), spec, background, 5);
    expect(rows).toEqual([people[0], people[1], people[2], people[3], people[4]]);
    expect(withBackground([], spec, background, 20)).toHaveLength(4); // all it has
  });

  it('leaves a full cohort, another spec, or no background alone', () => {
    expect(withBackground(people.slice(0, 3), spec, background, 3)).toEqual(people.slice(0, 3));
    const other = rowFeatureSpec({ columns: ['a', 'c', 'b'] }); // same columns, other order: other features
    expect(withBackground(people.slice(0, 1), other, background, 5)).toEqual(people.slice(0, 1));
    expect(withBackground(people.slice(0, 1), spec, undefined, 5)).toEqual(people.slice(0, 1));
    // The modality label alone does not make features different.
    expect(withBackground([], { ...spec, modality: 'keystroke' }, background, 2)).toHaveLength(2);
  });

  it('round-trips through the file form and refuses a truncated member', () => {
    const file = encodeBackground(background, ['p3', 'p4', 'p5', 'p6']);
    const back = decodeBackground(JSON.parse(JSON.stringify(file)), 'memory');
    expect(back.members).toEqual(background.members);
    const broken = { ...file, members: [{ ...file.members[0]!, windows: 13 }] };
    expect(() => decodeBackground(broken, 'memory')).toThrow(/member 0 holds .* expected 13 windows/);
  });

  it('a configured file that is missing fails loudly; off is none', async () => {
    await expect(loadBackground('/nonexistent/background.json')).rejects.toThrow(/VIGIL_BIOMETRIC_BACKGROUND=\/nonexistent/);
    await expect(loadBackground('off')).resolves.toBeUndefined();
  });
});
