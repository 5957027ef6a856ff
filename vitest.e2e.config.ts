import { defineConfig } from 'vitest/config';

/**
 * The console end to end (`npm run test:e2e`): a real `aisoc demo` server and Debian's Chromium.
 * Timeouts only catch a hang: every step waits on what the page shows, never on the clock.
 */
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.ts'],
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 600_000,
    hookTimeout: 600_000,
    reporters: ['default'],
  },
});
