import { stableUuid } from '../../ids.ts';
import type { NormalisedEvent } from '../../schema/event.ts';
import { SigmaEngine } from './engine.ts';
import { FieldRegistry } from './fields.ts';
import { parseRuleText } from './files.ts';
import { type PipelineDoc, Pipelines } from './pipeline.ts';
import { RuleSet, type RuleSetOptions } from './ruleset.ts';

/**
 * Helpers for tests of the engine: a pipeline over a `test` source whose
 * Sigma fields are the keys of `raw`, rule sets from YAML text, and events
 * from plain objects.
 */
export const TEST_PIPELINE: PipelineDoc = {
  name: 'test',
  source: 'test',
  fields: {},
  default_field: 'raw.{field}',
  loose_field_names: false,
  keywords: ['message', 'raw.*'],
  logsources: [
    { product: 'test', when: [{}] },
    { product: 'test', category: 'process_creation', when: [{ event_code: [1] }] },
    { product: 'test', service: 'auth', when: [{ log_name: 'auth' }] },
  ],
};

/** A rule set compiled from YAML text (one or more documents) over {@link TEST_PIPELINE}. */
export function ruleSetFromText(text: string, options: RuleSetOptions = {}, file = 'inline.yml'): RuleSet {
  const registry = new FieldRegistry();
  const pipelines = new Pipelines(registry);
  pipelines.add(TEST_PIPELINE);
  return new RuleSet(pipelines, registry, options).addDocs(parseRuleText(text, file)).finish();
}

/** An engine over rules given as YAML text. */
export function engineFromText(text: string, options: RuleSetOptions = {}): SigmaEngine {
  return new SigmaEngine(ruleSetFromText(text, options));
}

let seq = 0;

/** A normalised event of the `test` source whose `raw` is the given record. */
export function testEvent(
  raw: Record<string, unknown>,
  extra: Partial<NormalisedEvent> & { time?: string } = {},
): NormalisedEvent {
  const time = extra.time ?? '2024-05-01T12:00:00Z';
  return {
    id: stableUuid('test', String(++seq)),
    source: 'test',
    time,
    ingested_at: time,
    class_uid: 0,
    class_name: 'Base Event',
    category_uid: 0,
    category_name: 'Uncategorized',
    severity_id: 1,
    status: 'unknown',
    observables: [],
    metadata: {},
    raw,
    ...extra,
  };
}

/** Ids (or titles) of the rules matching one event. */
export function matchingRules(engine: SigmaEngine, event: NormalisedEvent): string[] {
  const out: string[] = [];
  engine.matchEvent(event, (r) => out.push(r.id));
  return out;
}
