import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { describeError } from '../../errors.ts';
import type { NormalisedEvent } from '../../schema/event.ts';
import type { SourceRegistry } from '../../sources/index.ts';
import { normaliseRecords } from '../../sources/normalise.ts';
import { SigmaEngine } from './engine.ts';
import type { SigmaIssue } from './issues.ts';
import type { CompiledCorrelation, CompiledRule, RuleSet } from './ruleset.ts';
import { parseYamlDocs } from './yaml-doc.ts';

/**
 * Rule samples: `<rule>.samples.yml` beside each rule of our pack holds
 * records in the source's own format that must (`match`) and must not
 * (`no_match`) make the rule fire. They run through the real source
 * normaliser, the same path production uses, so a sample also checks the
 * field mapping. A case with several records is a sequence (correlations).
 *
 * @example
 * source: cloudtrail
 * base: { eventSource: iam.amazonaws.com, awsRegion: us-east-1 }
 * match:
 *   - name: key for another user
 *     record: { eventName: CreateAccessKey, requestParameters: { userName: bob } }
 * no_match:
 *   - name: own key
 *     record: { eventName: CreateAccessKey, requestParameters: { userName: alice } }
 */
export const SampleCase = z
  .strictObject({
    name: z.string().min(1).describe('What the case shows'),
    record: z.unknown().optional().describe('One record in the source format'),
    records: z.array(z.unknown()).min(1).optional().describe('A sequence of records, in order'),
    rules: z
      .array(z.string())
      .min(1)
      .optional()
      .describe('Ids of the rules the case is about (default: the first rule of the file)'),
  })
  .refine((c) => (c.record === undefined) !== (c.records === undefined), {
    message: 'give either record or records',
  });
export type SampleCase = z.infer<typeof SampleCase>;

export const SamplesDoc = z
  .strictObject({
    source: z.string().min(1).describe('Source type whose normaliser reads the records'),
    base: z
      .record(z.string(), z.unknown())
      .optional()
      .describe('Fields merged under every record (records win), to keep cases short'),
    match: z.array(SampleCase).min(1).describe('Cases the rule must fire on'),
    no_match: z.array(SampleCase).min(1).describe('Cases the rule must not fire on'),
  })
  .describe('Positive and negative samples of a rule');
export type SamplesDoc = z.infer<typeof SamplesDoc>;

/** The samples file of a rule file: `x.yml` → `x.samples.yml`. */
export function samplesFileFor(ruleFile: string): string {
  return ruleFile.replace(/\.ya?ml$/i, '.samples.yml');
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge: `over` wins; objects merge, everything else replaces. */
export function deepMerge(base: Record<string, unknown>, over: unknown): unknown {
  if (!isObj(over)) return over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isObj(b) && isObj(v) ? deepMerge(b, v) : v;
  }
  return out;
}

export interface LoadedSamples {
  file: string;
  doc: SamplesDoc;
  /** Line of `match[i]` / `no_match[i]`. */
  line(kind: 'match' | 'no_match', index: number): number;
}

/** Read and validate a samples file; problems become located issues. */
export function loadSamples(file: string): { samples?: LoadedSamples; issues: SigmaIssue[] } {
  if (!existsSync(file)) return { issues: [] };
  const [doc] = parseYamlDocs(readFileSync(file, 'utf8'));
  if (!doc) return { issues: [{ kind: 'invalid', file, message: 'the samples file is empty' }] };
  if (doc.error)
    return {
      issues: [{ kind: 'invalid', file, line: doc.error.line, message: `YAML: ${doc.error.message}` }],
    };
  const parsed = SamplesDoc.safeParse(doc.value);
  if (!parsed.success) {
    return {
      issues: parsed.error.issues.map((i) => {
        const path = i.path.filter((p): p is string | number => typeof p !== 'symbol');
        return {
          kind: 'invalid' as const,
          file,
          line: doc.lineOf(path),
          message: `${path.join('.') || '(document)'}: ${i.message}`,
        };
      }),
    };
  }
  return { samples: { file, doc: parsed.data, line: (kind, i) => doc.lineOf([kind, i]) }, issues: [] };
}

export interface SampleResult {
  file: string;
  line: number;
  /** The rules the case is about. */
  rules: string[];
  case: string;
  expect: 'match' | 'no_match';
  ok: boolean;
  /** What went wrong, when not ok. */
  detail?: string;
}

/** Turn a case's records into normalised events through the named source. */
export function sampleEvents(
  samples: SamplesDoc,
  c: SampleCase,
  sources: SourceRegistry,
): { events: NormalisedEvent[]; error?: string } {
  const source = sources.get(samples.source);
  const records = c.records ?? [c.record];
  const framed = records.map((r) => ({ value: samples.base && isObj(r) ? deepMerge(samples.base, r) : r }));
  const n = normaliseRecords(source, framed, '2024-01-01T00:00:00Z');
  if (n.errors.length > 0) {
    const e = n.errors[0]!;
    return { events: n.events, error: `record ${e.at} does not normalise: ${e.message}` };
  }
  if (n.events.length === 0) return { events: [], error: 'the records produce no event' };
  return { events: n.events };
}

/** Ids of every rule and correlation that fires on the events (silent rules included). */
export function firedRules(ruleSet: RuleSet, events: readonly NormalisedEvent[]): Set<string> {
  const engine = new SigmaEngine(ruleSet);
  const fired = new Set<string>();
  for (const m of engine.process(events, { includeSilent: true })) fired.add(m.rule.id);
  for (const m of engine.flush()) fired.add(m.rule.id);
  return fired;
}

/**
 * Run the samples of every rule file in a rule set. Files without samples
 * are reported as issues by lint (pack convention), not here.
 */
export function runSamples(
  ruleSet: RuleSet,
  sources: SourceRegistry,
): { results: SampleResult[]; issues: SigmaIssue[] } {
  const byFile = new Map<string, Array<CompiledRule | CompiledCorrelation>>();
  for (const r of [...ruleSet.rules, ...ruleSet.correlations]) {
    const list = byFile.get(r.file);
    if (list) list.push(r);
    else byFile.set(r.file, [r]);
  }
  const results: SampleResult[] = [];
  const issues: SigmaIssue[] = [];
  for (const [file, rules] of [...byFile].sort(([a], [b]) => a.localeCompare(b))) {
    const { samples, issues: found } = loadSamples(samplesFileFor(file));
    issues.push(...found);
    if (!samples) continue;
    const first = [...rules].sort((a, b) => a.line - b.line)[0]!;
    for (const kind of ['match', 'no_match'] as const) {
      samples.doc[kind].forEach((c, i) => {
        const targets = c.rules ?? [first.id];
        const base = {
          file: samples.file,
          line: samples.line(kind, i),
          rules: targets,
          case: c.name,
          expect: kind,
        };
        const unknown = targets.filter((t) => !ruleSet.get(t));
        if (unknown.length) {
          results.push({ ...base, ok: false, detail: `no rule has the id ${unknown.join(', ')}` });
          return;
        }
        let events: NormalisedEvent[];
        try {
          const out = sampleEvents(samples.doc, c, sources);
          if (out.error) {
            results.push({ ...base, ok: false, detail: out.error });
            return;
          }
          events = out.events;
        } catch (err) {
          results.push({ ...base, ok: false, detail: describeError(err) });
          return;
        }
        const fired = firedRules(ruleSet, events);
        const ids = targets.map((t) => ruleSet.get(t)!.id);
        const ok = kind === 'match' ? ids.every((id) => fired.has(id)) : ids.every((id) => !fired.has(id));
        const result: SampleResult = { ...base, ok };
        if (!ok) result.detail = kind === 'match' ? 'the rule did not fire' : 'the rule fired';
        results.push(result);
      });
    }
  }
  return { results, issues };
}
