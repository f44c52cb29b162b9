/**
 * Regenerates the configuration table in README.md from src/config/schema.ts, so the README
 * documents exactly the variables the gateway reads. `npm run docs:config`; a test fails when
 * the README is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configTable } from '../src/config/config-table.ts';

const readme = fileURLToPath(new URL('../README.md', import.meta.url));
const BEGIN = '<!-- config:begin -->';
const END = '<!-- config:end -->';
const text = readFileSync(readme, 'utf8');
const start = text.indexOf(BEGIN);
const end = text.indexOf(END);
if (start < 0 || end < start) throw new Error(`README.md lacks the ${BEGIN} … ${END} markers`);
writeFileSync(readme, `${text.slice(0, start + BEGIN.length)}\n${configTable()}\n${text.slice(end)}`);
