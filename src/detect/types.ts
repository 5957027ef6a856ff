import type { Detection } from '../schema/alert.ts';
import type { NormalisedEvent } from '../schema/event.ts';

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
