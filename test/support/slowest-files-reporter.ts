import { relative } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

/** How many files the end-of-run table lists. */
const SHOWN = 10;

/**
 * Prints, after the run, the test files that took longest (import + tests + hooks), so the next
 * slow or flaky file is visible in every CI log without re-running anything.
 */
export default class SlowestFilesReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const rows = testModules
      .map((module) => {
        const d = module.diagnostic();
        return {
          file: relative(process.cwd(), module.moduleId),
          ms: d.collectDuration + d.setupDuration + d.duration,
          state: module.state(),
        };
      })
      .sort((a, b) => b.ms - a.ms)
      .slice(0, SHOWN);
    if (rows.length === 0) return;
    const lines = rows.map(
      (r) => `  ${(r.ms / 1000).toFixed(1).padStart(7)} s  ${r.file}${r.state === 'passed' ? '' : `  (${r.state})`}`,
    );
    process.stdout.write(`\nSlowest test files:\n${lines.join('\n')}\n`);
  }
}
