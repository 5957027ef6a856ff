/** Every feature set, by name: one line per set. */
import { AisocError } from '../../../errors.ts';
import { cicflowmeter } from './cicflowmeter.ts';
import { cloudtrailBehavioral } from './cloudtrail-behavioral.ts';
import { cloudtrail18 } from './cloudtrail18.ts';
import { flowPortable } from './flow-portable.ts';
import type { FeatureSet } from './types.ts';

export const FEATURE_SETS: readonly FeatureSet<never>[] = [
  cicflowmeter,
  flowPortable,
  cloudtrail18,
  cloudtrailBehavioral,
] as unknown as FeatureSet<never>[];

/**
 * A feature set by name, or an error listing the known ones.
 *
 * @example
 * const fs = featureSet('cloudtrail18');
 */
export function featureSet(name: string): FeatureSet {
  const fs = FEATURE_SETS.find((f) => f.name === name);
  if (!fs)
    throw new AisocError(
      'AISOC_ERR_VALIDATION',
      `No feature set named ${JSON.stringify(name)}; there are ${FEATURE_SETS.map((f) => f.name).join(', ')}.`,
      { field: 'features' },
    );
  return fs as FeatureSet;
}
