import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/build.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Tests start real servers and child processes; two cores, so keep parallelism modest.
    maxWorkers: 2,
  },
});
