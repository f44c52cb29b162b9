import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configTable } from '../../src/config/config-table.ts';

describe('README', () => {
  it('documents exactly the configuration the gateway reads (npm run docs:config)', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const table = readme.slice(
      readme.indexOf('<!-- config:begin -->') + '<!-- config:begin -->'.length,
      readme.indexOf('<!-- config:end -->'),
    );
    expect(table.trim()).toBe(configTable());
  });
});
