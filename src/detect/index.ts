import { parseSection } from '../config/sections.ts';
import { withLevelOverrides } from './levels.ts';
import { mlDetectorFactory } from './ml/detector.ts';
import { resourcePolicyDetectorFactory } from './policy/index.ts';
import { sigmaDetectorFactory } from './sigma/index.ts';
import type { Detector, DetectorContext, DetectorFactory } from './types.ts';
import { upstreamDetectorFactory } from './upstream.ts';

export {
  type AlertCandidate,
  type DetectionWindows,
  type DetectOutput,
  type Detector,
  type DetectorContext,
  type DetectorFactory,
  isWindowFeed,
  type WindowFeed,
} from './types.ts';

/**
 * Every detector kind, by type, in the order the detect stage runs them:
 * one line per kind. A kind's `configSchema` becomes `detect.<type>`
 * (`detectConfigOf` in `config.ts`).
 */
export const DETECTOR_FACTORIES = {
  upstream: upstreamDetectorFactory,
  sigma: sigmaDetectorFactory,
  resource_policy: resourcePolicyDetectorFactory,
  ml: mlDetectorFactory,
} as const satisfies Record<string, DetectorFactory<unknown>>;

/**
 * Build the detectors of every registered kind, in registry order, from the
 * `detect` section. Each kind's section is parsed by its own schema, so a
 * registry extended beyond the one the configuration was assembled from
 * (tests, embedders) is checked too: a bad section is `AISOC_ERR_CONFIG`
 * naming `detect.<type>.<field>`.
 *
 * @example
 * const detectors = await buildDetectors(config.detect, { logger, metrics, detect: config.detect, ml });
 */
export async function buildDetectors(
  detect: Readonly<Record<string, unknown>>,
  ctx: DetectorContext,
  factories: Readonly<Record<string, DetectorFactory<unknown>>> = DETECTOR_FACTORIES,
): Promise<Detector[]> {
  const detectors: Detector[] = [];
  for (const [type, factory] of Object.entries(factories)) {
    const section = factory.configSchema
      ? parseSection(factory.configSchema, detect[type], `detect.${type}`)
      : undefined;
    const built = await factory.create(section, ctx);
    // Rules written as code take `detect.level_overrides` on their detections (Sigma's take it as they compile).
    detectors.push(...built.map((d) => withLevelOverrides(d, ctx.detect.level_overrides ?? {})));
  }
  return detectors;
}
