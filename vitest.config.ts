import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // 2 cores in CI: the process-heavy suites would only fight each other
    maxWorkers: 2,
    reporters: ['default'],
  },
});
