import type { Logger } from 'pino';
import type { z } from 'zod';
import type { Detection } from '../schema/alert.ts';
import type { NormalisedEvent } from '../schema/event.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { DetectFields } from './config.ts';
import type { MlService } from './ml/service.ts';

/** A detection over some events, before correlation turns it into an alert. */
export interface AlertCandidate {
  detection: Detection;
  events: NormalisedEvent[];
  /** Title for the alert; defaults to the rule title. */
  title?: string;
  description?: string;
}

/**
 * A detector looks at a batch of events and reports what it finds. Detectors
 * are synchronous or asynchronous functions of their input plus their own
 * state (correlation rules keep windows); they never write to the store.
 */
export interface Detector {
  readonly name: string;
  detect(events: NormalisedEvent[]): AlertCandidate[] | Promise<AlertCandidate[]>;
}

/**
 * What a detector factory gets besides its own section: where to log and
 * count, the `detect` section's own fields, and the runtime's served models.
 */
export interface DetectorContext {
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** The fields of `detect` no factory contributes (`upstream_min_severity`, which predates `detect.<type>` sections). */
  readonly detect: DetectFields;
  /**
   * The served models, opened by the runtime from the top-level `ml` section
   * (they also answer `/predict`); absent when `ml.enabled` is false.
   */
  readonly ml?: MlService;
}

/**
 * The component contract for detectors: `{ type, configSchema?, create }`.
 * Adding one is a folder under `src/detect/<type>/` and one line in
 * `DETECTOR_FACTORIES` (`src/detect/index.ts`); a `configSchema` becomes the
 * section `detect.<type>` (every field with a default, unknown keys refused).
 */
export interface DetectorFactory<C = undefined> {
  readonly type: string;
  readonly description: string;
  /** The schema of `detect.<type>`; absent for detectors configured elsewhere (upstream, ML). */
  readonly configSchema?: z.ZodType<C>;
  /**
   * The detectors of this kind, in the order they run: none when the
   * configuration turns the kind off. `section` is `detect.<type>`, parsed
   * (undefined without a `configSchema`). Loading may be asynchronous; the
   * detectors must not write to the store.
   */
  create(section: C, ctx: DetectorContext): Detector[] | Promise<Detector[]>;
}
