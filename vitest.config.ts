import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // Real programs and servers are obtained and started once per run, here.
    globalSetup: ['tests/harness/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 300_000,
    // Two cores: tests that drive real servers should not all run at once.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
