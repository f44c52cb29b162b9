import { describe, expect, it } from 'vitest';
import { VigilError } from '../../../protocol/errors.ts';
import { parseProfileFields, ProfileValidator } from './profile-fields.ts';

describe('VIGIL_PROFILE_FIELDS', () => {
  it('parses a declared list', () => {
    const fields = parseProfileFields(
      '[{"name":"interests","type":"string[]"},{"name":"profession","type":"string","required":true,"maxLength":40},{"name":"foreigner","type":"boolean"}]',
    );
    expect(fields).toEqual([
      { name: 'interests', type: 'string[]' },
      { name: 'profession', type: 'string', required: true, maxLength: 40 },
      { name: 'foreigner', type: 'boolean' },
    ]);
  });

  it.each([
    ['{', /^VIGIL_PROFILE_FIELDS: not valid JSON/],
    ['{}', /^VIGIL_PROFILE_FIELDS: must be a JSON array of \{name, type\} objects$/],
    ['[1]', /^VIGIL_PROFILE_FIELDS\[0\]: must be an object \{name, type\}$/],
    ['[{"name":"x","type":"string","colour":"red"}]', /^VIGIL_PROFILE_FIELDS\[0\]\.colour: unknown key/],
    ['[{"name":"1x","type":"string"}]', /^VIGIL_PROFILE_FIELDS\[0\]\.name: must match/],
    ['[{"name":"age","type":"integer"}]', /^VIGIL_PROFILE_FIELDS\[0\]\.name: "age" is a built-in profile field$/],
    ['[{"name":"a","type":"string"},{"name":"a","type":"string"}]', /^VIGIL_PROFILE_FIELDS\[1\]\.name: "a" is declared twice$/],
    [
      '[{"name":"a","type":"blob"}]',
      /^VIGIL_PROFILE_FIELDS\[0\]\.type: must be one of string, number, integer, boolean, date, string\[\], json$/,
    ],
    ['[{"name":"a","type":"string","required":"yes"}]', /^VIGIL_PROFILE_FIELDS\[0\]\.required: must be true or false$/],
    ['[{"name":"a","type":"string","maxLength":0}]', /^VIGIL_PROFILE_FIELDS\[0\]\.maxLength: must be a whole number ≥ 1$/],
    ['[{"name":"a","type":"string","description":5}]', /^VIGIL_PROFILE_FIELDS\[0\]\.description: must be a string$/],
  ])('refuses %s with a message naming the entry', (json, message) => {
    expect(() => parseProfileFields(json)).toThrow(message);
  });

  it('validates profiles in the service layer, naming each field', () => {
    const validator = new ProfileValidator(
      parseProfileFields('[{"name":"profession","type":"string","required":true},{"name":"files","type":"json"}]'),
    );
    expect(() => validator.check({ profession: 'doctor', name: 'Kim' }, 'input')).not.toThrow();
    try {
      validator.check({ age: -1, shoeSize: 42, files: 'x'.repeat(9000) }, 'input');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(VigilError);
      const fields = (err as VigilError).details!.map((d) => d.field).sort();
      expect(fields).toEqual(['profile.age', 'profile.files', 'profile.profession', 'profile.shoeSize']);
    }
    expect(() => validator.check({ name: null }, 'patch')).not.toThrow();
  });
});
