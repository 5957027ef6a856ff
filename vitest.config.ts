import { defineConfig } from 'vitest/config';
import SpreadSequencer from './test/helpers/sequencer.ts';

/**
 * System tests: they start real processes (the CLI, servers, nft, python) or
 * read the real data sets under ../shared/data. They get long limits of their
 * own, and the sequencer spreads them through the run. Timeouts here only
 * catch a hang: every test waits on conditions, never on the clock.
 */
const SYSTEM = [
  'test/**/*.test.ts',
  'src/**/*.real.test.ts',
  'src/**/real-data.test.ts',
  'src/**/shared-data.test.ts',
  'src/detect/sigma/sigmahq.test.ts',
  'src/cli/commands/*.test.ts',
  'src/sources/follow.test.ts',
  'src/store/pglite.test.ts',
  'src/respond/actions/local/block-ip.test.ts',
];

export default defineConfig({
  test: {
    globalSetup: ['test/helpers/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
    sequence: { sequencer: SpreadSequencer },
    projects: [
      {
        // The console's components, rendered in happy-dom (the end-to-end run drives a real Chromium).
        extends: true,
        test: {
          name: 'web',
          include: ['web/src/**/*.test.tsx', 'web/src/**/*.test.ts'],
          environment: 'happy-dom',
          testTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts'],
          exclude: SYSTEM,
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'system',
          include: SYSTEM,
          testTimeout: 600_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
