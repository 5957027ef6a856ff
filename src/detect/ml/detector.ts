import type { DetectorFactory } from '../types.ts';

/**
 * The registry entry of the ML detector: the runtime's served models
 * (`MlService`, opened from the top-level `ml` section because it also
 * answers `/predict`) scoring pipeline events; none when `ml.enabled` is
 * false. Only the service's type is imported, so the config schema, which
 * reads this registry, does not load the models' code.
 */
export const mlDetectorFactory = {
  type: 'ml',
  description: 'The served models (the `ml` section) scoring flow and CloudTrail events',
  create: (_section, ctx) => (ctx.ml ? [ctx.ml.detector()] : []),
} satisfies DetectorFactory;
