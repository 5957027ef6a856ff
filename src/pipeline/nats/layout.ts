import { AisocError } from '../../errors.ts';
import type { AnyStage } from '../stage.ts';
import type { NatsRunnerConfig } from './config.ts';

/**
 * Where the runner's messages live: the subjects, streams and durable
 * consumers, all named from `pipeline.nats.prefix` so two deployments can
 * share a NATS account.
 *
 * ```
 * submit ──► <prefix>.events.<source>   stream <prefix>_events      consumer <prefix>-<stage 0>
 * stage i ─► <prefix>.stage.<stage i+1> stream <prefix>_stage_<i+1> consumer <prefix>-<stage i+1>
 * poison ──► <prefix>.dead.<stage>      stream <prefix>_dead        (no consumer: inspection and replay)
 * ```
 */
export interface StageRoute {
  /** The stage's name as the runner's stats give it. */
  name: string;
  /** The stage's name as one subject token (and part of stream and consumer names). */
  token: string;
  /** The stream the stage reads. */
  stream: string;
  /** Subjects that stream holds. */
  subjects: string[];
  /** The durable pull consumer every worker shares for this stage. */
  durable: string;
  /** Where the stage's poison messages go. */
  deadSubject: string;
}

export interface Layout {
  eventsStream: string;
  deadStream: string;
  deadSubjects: string[];
  stages: StageRoute[];
  /** The subject an event of `source` is published to. */
  eventSubject(source: string): string;
  /** The subject of stage `i`'s input, for the outputs of stage i − 1. */
  stageSubject(i: number): string;
}

/** A name as one NATS subject token and stream-name part: letters, digits, `_` and `-`; anything else becomes `_`. */
export function subjectToken(name: string): string {
  const t = name.replace(/[^A-Za-z0-9_-]/g, '_');
  return t === '' ? '_' : t;
}

/**
 * The subjects, streams and consumers for `stages` under `prefix`. Two
 * stages whose names give the same token are `AISOC_ERR_CONFIG`: they would
 * share a consumer.
 *
 * @example layoutOf({ prefix: 'aisoc' }, [detect, correlate]).stages[1].stream // 'aisoc_stage_correlate'
 */
export function layoutOf(config: Pick<NatsRunnerConfig, 'prefix'>, stages: AnyStage[]): Layout {
  const p = config.prefix;
  const seen = new Map<string, string>();
  const routes = stages.map((stage, i): StageRoute => {
    const token = subjectToken(stage.name);
    const other = seen.get(token);
    if (other !== undefined) {
      throw new AisocError(
        'AISOC_ERR_CONFIG',
        `pipeline.runner: the stages ${other} and ${stage.name} would share the NATS consumer ${p}-${token}; give them names that differ in letters, digits, _ or -`,
        { field: 'pipeline.runner' },
      );
    }
    seen.set(token, stage.name);
    return {
      name: stage.name,
      token,
      stream: i === 0 ? `${p}_events` : `${p}_stage_${token}`,
      subjects: i === 0 ? [`${p}.events.>`] : [`${p}.stage.${token}`],
      durable: `${p}-${token}`,
      deadSubject: `${p}.dead.${token}`,
    };
  });
  return {
    eventsStream: `${p}_events`,
    deadStream: `${p}_dead`,
    deadSubjects: [`${p}.dead.>`],
    stages: routes,
    eventSubject: (source) => `${p}.events.${subjectToken(source)}`,
    stageSubject: (i) => `${p}.stage.${routes[i]?.token ?? '_'}`,
  };
}
