/**
 * Example for docs/ARCHITECTURE.md, "How to add a detector" (metrics step):
 * the detector's own metric set, declared in its folder with defineMetrics
 * (`src/detect/login_burst/metrics.ts` in the product).
 */
import { defineMetrics } from '../../../src/telemetry/metrics.ts';

export const loginBurstMetrics = defineMetrics('login_burst', (m) => ({
  bursts: m.counter({
    name: 'aisoc_example_login_bursts_total',
    help: 'Bursts of failed sign-ins from one address the example detector reported',
  }),
}));
