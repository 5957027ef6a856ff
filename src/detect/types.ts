import type { Logger } from 'pino';
import type { z } from 'zod';
import type { Detection } from '../schema/alert.ts';
import type { SeverityName } from '../schema/common.ts';
import type { NormalisedEvent } from '../schema/event.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { DetectFields } from './config.ts';
import type { MlService } from './ml/service.ts';
import type { BaselineFeed } from './noise/baseline.ts';

/**
 * One rule a detector runs, as the console lists it (`GET /rules`) and counts
 * it toward ATT&CK coverage (`GET /coverage`): what it is, what it looks at,
 * its tags (ATT&CK techniques among them, `attack.t1078.004`) and what a
 * reviewer should know about it.
 */
export interface DetectorRule {
  /** The rule id alerts carry in `detections[].rule_id`. */
  id: string;
  title: string;
  engine: Detection['engine'];
  level: SeverityName;
  /** Maturity (Sigma: stable, test, experimental, deprecated, unsupported). */
  status?: string;
  logsource?: { product?: string; service?: string; category?: string };
  /** Source types whose events it reads (a correlation: those of the rules it counts); absent when unknown (ML). */
  sources?: string[];
  tags: string[];
  /** `error`: it cannot work as written; `warning`: it works, but a reviewer should look. */
  lint: { state: 'ok' | 'warning' | 'error'; messages: string[] };
}

/** A lint verdict from its messages: the worst of them decides. */
export function lintOf(errors: string[], warnings: string[]): DetectorRule['lint'] {
  return {
    state: errors.length ? 'error' : warnings.length ? 'warning' : 'ok',
    messages: [...errors, ...warnings],
  };
}

/** A detection over some events, before correlation turns it into an alert. */
export interface AlertCandidate {
  detection: Detection;
  events: NormalisedEvent[];
  /** Title for the alert; defaults to the rule title. */
  title?: string;
  description?: string;
}

/**
 * One step of a detection over many events, for the windows the correlate
 * stage keeps (a match of a Sigma rule that correlations reference). The
 * detect stage reports it instead of keeping the window itself, so any
 * worker may detect any event and every match meets the same windows.
 */
export interface WindowFeed {
  readonly kind: 'window_feed';
  /** The detector whose windows take it (`DetectionWindows.detector`). */
  detector: string;
  /** The rule that matched. */
  rule_id: string;
  /** The windows (correlation ids) it feeds, as the detect stage's rules saw them. */
  windows: string[];
  /** The event: its id, time and fields are what a window counts, and a window that fires carries it as evidence. */
  event: NormalisedEvent;
  /** Field → value of the fields the windows group and count by (aliases resolved). */
  values: Record<string, string>;
}

/** What the detect stage hands the correlate stage: candidates, steps for its windows, and what a batch adds to the cloud baselines. */
export type DetectOutput = AlertCandidate | WindowFeed | BaselineFeed;

/** Whether a detect output is a window step. */
export function isWindowFeed(item: DetectOutput): item is WindowFeed {
  return (item as Partial<WindowFeed>).kind === 'window_feed';
}

/** A window group as it is persisted: `state` null when the group is gone. */
export interface WindowGroupRow {
  /** The window (correlation id). */
  window: string;
  key: string;
  /** Event time of the group's latest match, ms since the epoch. */
  last: number;
  state: unknown;
}

/** What changed in a set of windows since it was last asked. */
export interface WindowChanges {
  /** Groups created, changed (with state) or gone (state null). */
  groups: WindowGroupRow[];
  /** The watermark (latest event time, ms) of every window, when one of them moved. */
  watermarks?: Record<string, number>;
}

/**
 * Windows over many events (Sigma correlation windows), run by the correlate
 * stage over the {@link WindowFeed}s of one detector. The stage persists
 * what changes in the transaction of the batch and restores it in another
 * process or after a restart, so the windows are one, whichever worker
 * detected the events and in whichever order they arrive.
 */
export interface DetectionWindows {
  readonly detector: string;
  /**
   * Offer steps (any order: they are taken in event time) and expire what
   * has passed: the candidates of the windows that fire.
   */
  offer(items: readonly WindowFeed[]): AlertCandidate[];
  /** Groups changed since the last call, and the watermarks when they moved. */
  takeChanges(): WindowChanges;
  /** Apply saved groups (`state` null: gone) and watermarks; `full` replaces everything held. */
  restore(rows: readonly WindowGroupRow[], watermarks: Readonly<Record<string, number>>, full: boolean): void;
}

/**
 * A detector looks at a batch of events and reports what it finds. Detectors
 * are synchronous or asynchronous functions of their input plus their own
 * state (correlation rules keep windows); they never write to the store.
 */
export interface Detector {
  readonly name: string;
  /**
   * Candidates over a batch, any windows kept in this object's memory: the
   * offline form (replay, `aisoc detect`, the evaluations), fed in event
   * time by one reader. The pipeline calls it only for a detector without
   * {@link windowed}, whose `detect` must then be stateless per event.
   */
  detect(events: NormalisedEvent[]): AlertCandidate[] | Promise<AlertCandidate[]>;
  /**
   * The pipeline's form of a detector with windows over many events (Sigma
   * correlations): `detect` is stateless per event, reporting candidates and
   * {@link WindowFeed}s; the correlate stage keeps one `windows()` for them.
   */
  readonly windowed?: {
    detect(events: NormalisedEvent[]): DetectOutput[] | Promise<DetectOutput[]>;
    /** A new, empty set of this detector's windows. */
    windows(): DetectionWindows;
  };
  /** The rules it runs (the console's rule list and ATT&CK coverage); absent for a detector with no rules of its own. */
  rules?(): DetectorRule[];
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
  /** The data directory (`data_dir`), where `aisoc rules update` installs rules; absent where there is none. */
  readonly dataDir?: string;
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
