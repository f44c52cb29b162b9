import { describe, expect, it } from 'vitest';
import { compareWithExample, shapes } from './shape.ts';

// The matcher the legacy replays rely on must itself be able to say no.
describe('compareWithExample', () => {
  const jwt =
    'eyJhbGciOiJIUzUxMiJ9.eyJpYXQiOjE2Njk4MDYxMDAsInN1YiI6InBoajEyMyIsImV4cCI6MTY2OTg5MjUwMH0.9HAmOX6BM4ZcH6k6KBi56cGsmOIAxM-ROKVri1ggOuoez-Wkk98eDSiZSAH52_eHgWYp70vwDZD8AbvWV0fX-Q';

  it('accepts an equal document and shaped fields', () => {
    const example = { data: { id: 1, token: jwt, name: 'parkh' }, error: null };
    const actual = { data: { id: 7, token: jwt, name: 'parkh' }, error: null };
    expect(compareWithExample(actual, example, { '/data/id': shapes.positiveInt, '/data/token': shapes.jwt('HS512') })).toEqual(
      [],
    );
  });

  it('names missing, extra, different and misshapen fields', () => {
    const example = { detail: '로그아웃 되었습니다.', user: { pk: 1, name: 'a' } };
    const actual = { detail: '로그아웃', user: { pk: 0, extra: true } };
    expect(compareWithExample(actual, example, { '/user/pk': shapes.positiveInt })).toEqual([
      '/detail: expected "로그아웃 되었습니다.", got "로그아웃"',
      '/user/pk: expected a positive integer, got 0',
      '/user/name: missing',
      '/user/extra: not in the document',
    ]);
  });

  it('checks array lengths, types and JWT algorithms', () => {
    expect(compareWithExample({ item: [1, 2] }, { item: [1] })).toEqual(['/item: expected 1 items, got 2']);
    expect(compareWithExample({ item: null }, { item: [] })).toEqual(['/item: expected array [], got null']);
    expect(shapes.jwt('EdDSA')(jwt)).toBe('a JWT signed with EdDSA (got HS512)');
    expect(shapes.jwt()('not.a.jwt!')).not.toBe(true);
    expect(shapes.hex(40)('e4c0d0daaf2cc4ee2190a033957c1aa8c9eca9a5')).toBe(true);
    expect(shapes.hex(40)('E4C0')).not.toBe(true);
  });

  it('escapes keys with slashes and matches Korean keys', () => {
    expect(
      compareWithExample({ '전체 Test': 3, 'a/b': 1 }, { '전체 Test': 227, 'a/b': 1 }, { '/전체 Test': shapes.nonNegativeInt }),
    ).toEqual([]);
  });
});
