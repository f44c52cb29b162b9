import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const INCLUDE = ['src/**/*.test.ts', 'protocol/**/*.test.ts', 'workers/**/*.test.ts', 'test/**/*.test.ts'];
/**
 * Files that run in a process of their own: those that replace modules or prototypes for their run
 * (vi.mock, vi.spyOn), and the hardening files, which crash workers, stall native threads, cut
 * connections and fuzz on purpose, so nothing they leave behind may run on into the next file.
 * Every other file shares its worker's already-imported modules with the files that ran there
 * before it: each has its own database, key prefix and gateways, and re-importing the gateway's
 * module graph cost ~1.5 s per file.
 */
const OWN_MODULES = ['src/biometrics/training-verification.test.ts', 'test/hardening/**/*.test.ts'];

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
