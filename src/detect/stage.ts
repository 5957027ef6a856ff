import type { Stage } from '../pipeline/stage.ts';
import type { NormalisedEvent } from '../schema/event.ts';
import { observeBatch } from './noise/baseline.ts';
import type { DetectOutput, Detector } from './types.ts';

/**
 * The detect stage: every detector sees every batch. It keeps no state
 * between batches, so any worker may take any batch: a detector with windows
 * over many events (Sigma correlations) runs its `windowed` form, which
 * reports window steps for the correlate stage instead of keeping windows.
 * A detector that throws fails the batch; the runner retries it and then
 * isolates the event at fault into the dead-letter table, so one bad event
 * never hides the rest. With `observe` (noise control on), each batch also
 * reports what its cloud calls add to the first-seen baselines, which the
 * correlate stage keeps, as it keeps the windows.
 */
export function detectStage(
  detectors: Detector[],
  options: { observe?: boolean } = {},
): Stage<NormalisedEvent, DetectOutput> {
  return {
    name: 'detect',
    async process(batch) {
      const outputs: DetectOutput[] = [];
      for (const d of detectors) outputs.push(...(await (d.windowed ?? d).detect(batch)));
      // Noise control: what the batch adds to the cloud baselines, which the correlate stage keeps.
      const feed = options.observe ? observeBatch(batch) : undefined;
      if (feed) outputs.push(feed);
      return { outputs };
    },
  };
}
