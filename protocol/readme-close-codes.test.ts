import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERRORS, isReconnectWorthy, type CoreErrorCode } from './errors.ts';

// protocol/README.md's close-code table is what client authors read; it must say what the
// catalogue does.
const readme = readFileSync(new URL('./README.md', import.meta.url), 'utf8');
const section = readme.slice(readme.indexOf('## 4. Close codes'), readme.indexOf('## 5.'));
const rows = section
  .split('\n')
  .filter((line) => /^\| \d{4}/.test(line))
  .map((line) => {
    const [code, names, reconnect] = line
      .split('|')
      .slice(1, 4)
      .map((cell) => cell.trim());
    const [low, high] = code!.split('–').map(Number);
    return {
      low: low!,
      high: high ?? low!,
      names: [...names!.matchAll(/`([A-Z_]+)`/g)].map((m) => m[1]!),
      reconnect: reconnect === 'yes',
    };
  });

describe('protocol/README.md close codes', () => {
  it('gives each named catalogue entry its real close code', () => {
    expect(rows.length).toBeGreaterThan(10);
    for (const row of rows) {
      for (const name of row.names) {
        expect(name in ERRORS, `${name} is not in the catalogue`).toBe(true);
        const close = ERRORS[name as CoreErrorCode].close;
        expect(
          close >= row.low && close <= row.high,
          `${name} closes with ${close}, the README says ${row.low}–${row.high}`,
        ).toBe(true);
      }
    }
  });

  it('says "reconnect" exactly where isReconnectWorthy does', () => {
    for (const row of rows) expect(isReconnectWorthy(row.low), `code ${row.low}`).toBe(row.reconnect);
  });

  it('lists every close code a socket can get from the channel', () => {
    const listed = new Set(rows.flatMap((row) => row.names));
    const socketCodes = Object.keys(ERRORS).filter(
      (code) => (code.startsWith('STREAM_') && code !== 'STREAM_REFUSED') || code.startsWith('TOKEN_'),
    );
    expect(socketCodes.filter((code) => !listed.has(code))).toEqual([]);
  });
});
