import { defineConfig } from 'vitest/config';

// Two projects: unit tests need nothing but Node; integration tests run generated artifacts
// through the real programs and servers, which src/local obtains and starts once per run.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['tests/unit/**/*.test.ts'],
          setupFiles: ['tests/support/die-with-runner.ts', 'tests/support/remove-scratch.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['tests/integration/**/*.test.ts'],
          setupFiles: ['tests/support/die-with-runner.ts', 'tests/support/remove-scratch.ts'],
          globalSetup: ['tests/support/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
        },
      },
    ],
    // Two cores: real servers and test workers share them.
    maxWorkers: 2,
    // Forked processes, not worker threads: a program a test starts gets its parent-death signal
    // when the thread that forked it ends, and in a worker process that is the process's main
    // thread, which ends with the process (see tests/support/die-with-runner.ts).
    pool: 'forks',
  },
});
