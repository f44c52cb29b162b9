import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'protocol/**/*.test.ts', 'workers/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // Integration tests talk to real Redis/FerretDB and spawn gateways; allow for a busy 2-core box.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default', fileURLToPath(new URL('test/support/slowest-files-reporter.ts', import.meta.url))],
  },
});
