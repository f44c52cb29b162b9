import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

/** What every benchmark states about its run: package versions, how busy the machine was, medians. */

const NODE_MODULES = fileURLToPath(new URL('../node_modules/', import.meta.url));

/** The installed version of `name`, or '?' when it is not installed. */
/** The introspection credential the benchmarked gateway is started with (production requires one). */
export const BENCH_INTROSPECTION_TOKEN = 'bench-introspection-credential';

export function packageVersion(name: string): string {
  const file = `${NODE_MODULES}${name}/package.json`;
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version : '?';
}

/** The 1, 5 and 15 minute load averages, e.g. "1.20 1.63 1.89": other work on a shared machine shows here. */
export function loadAverage(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

/** Each field's median over the rounds (the lower middle for an even count), taken separately. */
export function medianRound<T extends { [K in keyof T]: number }>(rounds: readonly T[]): T {
  const result = { ...rounds[0]! };
  for (const key of Object.keys(result) as Array<keyof T>) {
    const values = rounds.map((r) => r[key]).sort((a, b) => a - b);
    result[key] = values[Math.floor(values.length / 2)]!;
  }
  return result;
}
