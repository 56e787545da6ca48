import { defineConfig } from 'vitest/config';

/**
 * unit: pure functions, no servers, run in parallel.
 * integration/e2e: real kube-apiserver, named, network namespaces, Chromium; each suite starts what it
 * needs once (test/support) and the files run one at a time so a 2-core machine is not overcommitted.
 */
export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          setupFiles: ['test/support/scratchSetup.ts'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          globalSetup: ['test/support/globalSetup.ts'],
          setupFiles: ['test/support/scratchSetup.ts'],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
