import { defineConfig } from 'vitest/config';

/**
 * The CDK app's tests (infra/test): template assertions, cdk-nag, the ASL
 * validator and the local run of the state machine. Needs `npm ci --prefix infra`.
 * Run with `npm run test:infra`.
 */
export default defineConfig({
  test: {
    include: ['infra/test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
