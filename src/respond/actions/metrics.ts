import { defineMetrics } from '../../telemetry/metrics.ts';

/** What `aisoc_actions_total` counts for a run, and for a rollback. */
export const RUN_OUTCOMES = ['succeeded', 'dry_run', 'skipped', 'failed'] as const;
export const ROLLBACK_OUTCOMES = [
  'rolled_back',
  'rollback_dry_run',
  'rollback_skipped',
  'rollback_failed',
] as const;

/**
 * Response actions' metrics, counted by the shared wrapper (`wrapper.ts`)
 * for every action, so an action counts nothing itself.
 *
 * @example actionMetrics(runtime.metrics).actions.inc({ type: 'aws.waf.block_ip', outcome: 'succeeded' })
 */
export const actionMetrics = defineMetrics('actions', (m) => ({
  actions: m.counter({
    name: 'aisoc_actions_total',
    help: 'Response action runs by type and outcome (succeeded, dry_run, skipped, failed; rollbacks: rolled_back, rollback_dry_run, rollback_skipped, rollback_failed)',
    labelNames: ['type', 'outcome'] as const,
  }),
}));
