import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const INCLUDE = ['src/**/*.test.ts', 'protocol/**/*.test.ts', 'workers/**/*.test.ts', 'test/**/*.test.ts'];
/**
 * Files that replace modules or prototypes for their own run (vi.mock, vi.spyOn): they get a fresh
 * module graph of their own. Every other file shares its worker's already-imported modules with the
 * files that ran there before it: each file has its own database, key prefix and gateways, and
 * re-importing the gateway's module graph cost ~1.5 s per file (a third of the suite's worker time).
 */
const OWN_MODULES = ['src/biometrics/training-verification.test.ts', 'test/hardening/regressions.test.ts'];

export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    // Integration tests talk to real Redis/FerretDB and spawn gateways; allow for a busy 2-core box.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default', fileURLToPath(new URL('test/support/slowest-files-reporter.ts', import.meta.url))],
    projects: [
      { extends: true, test: { name: 'shared', include: INCLUDE, exclude: OWN_MODULES, isolate: false } },
      { extends: true, test: { name: 'isolated', include: OWN_MODULES, isolate: true } },
    ],
  },
});
