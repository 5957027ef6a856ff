import type { Stage } from '../pipeline/stage.ts';
import type { NormalisedEvent } from '../schema/event.ts';
import type { AlertCandidate, Detector } from './types.ts';

/**
 * The detect stage: every detector sees every batch. A detector that throws
 * fails the batch; the runner retries it and then isolates the event at
 * fault into the dead-letter table, so one bad event never hides the rest.
 */
export function detectStage(detectors: Detector[]): Stage<NormalisedEvent, AlertCandidate> {
  return {
    name: 'detect',
    async process(batch) {
      const outputs: AlertCandidate[] = [];
      for (const d of detectors) outputs.push(...(await d.detect(batch)));
      return { outputs };
    },
  };
}
