import { z } from 'zod';
import { declaredSectionsOf } from '../config/sections.ts';
import { DETECTOR_FACTORIES } from './index.ts';
import { LevelOverrides } from './levels.ts';
import { NoiseConfig } from './noise/config.ts';
import type { DetectorFactory } from './types.ts';

/** The fields of `detect` that no detector's registry line contributes (they predate `detect.<type>` sections). */
const DETECT_FIELDS = {
  upstream_min_severity: z
    .enum(['informational', 'low', 'medium', 'high', 'critical'])
    .default('medium')
    .describe('Least severity of an upstream verdict (Wazuh, Suricata, GuardDuty) that raises an alert'),
  level_overrides: LevelOverrides.default({}).describe(
    'Levels set by configuration, by rule id or title, for every rule: Sigma rules (where detect.sigma.level_overrides, read first, also sets them) and rules written as code (engine rule: the resource-policy rule). The detection records the rule’s own level and the reason; a Sigma rule set below detect.sigma.min_level raises no alert, a code rule set to informational raises an informational one (context). Models and upstream verdicts keep their own levels',
  ),
  noise: NoiseConfig.default(NoiseConfig.parse({})),
};

/** The values of {@link DETECT_FIELDS}, as every detector factory sees them. */
export type DetectFields = {
  [K in Exclude<keyof typeof DETECT_FIELDS, 'noise'>]: z.infer<(typeof DETECT_FIELDS)[K]>;
};

/**
 * The `detect` section over a detector registry: its own fields, then one
 * section `detect.<type>` per detector that declares a `configSchema`, so a
 * new detector brings its settings with its registry line.
 *
 * @example detectConfigOf({ ...DETECTOR_FACTORIES, mine: myDetector }).parse({ mine: { window_ms: 5000 } })
 */
export function detectConfigOf<R extends Record<string, DetectorFactory<unknown>>>(factories: R) {
  return z.strictObject({ ...DETECT_FIELDS, ...declaredSectionsOf(factories) }).describe('Detection');
}

/** `detect`: the detectors' settings (upstream verdicts, and `detect.sigma` from the registry). */
export const DetectConfig = detectConfigOf(DETECTOR_FACTORIES);
export type DetectConfig = z.infer<typeof DetectConfig>;
