import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import type { SourceRegistry } from '../../sources/index.ts';
import type { RecordError } from '../../sources/normalise.ts';
import { type ReplayInput, type ReplayOptions, replaySync } from '../replay.ts';
import { SigmaEngine, type SigmaMatch } from './engine.ts';
import { sigmaReplayDetector } from './index.ts';
import type { SigmaIssue } from './issues.ts';
import { type CompiledCorrelation, type CompiledRule, RuleSet } from './ruleset.ts';
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
    source: z
      .string()
      .min(1)
      .optional()
      .describe("Source type of this case's records, when not the file's (a rule over two sensors)"),
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
      .describe("Fields merged under every record of the file's source (records win), to keep cases short"),
    placeholders: z
      .record(z.string(), z.array(z.string()))
      .optional()
      .describe(
        'Values of %name% placeholders the cases need (merged over the configured ones); the file is compiled again with them',
      ),
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

/** What {@link firedOn} found: the rules that fired, and what got in the way of reading the inputs. */
export interface Fired {
  /** Ids of every rule and correlation that fired (silent rules included). */
  fired: Set<string>;
  /** Events the inputs made. */
  events: number;
  /** Why an input was not read (unreadable file, unknown source, unframeable text), for the first one. */
  skipped?: string;
  /** The first record a source could not read. */
  recordError?: RecordError;
}

/**
 * Replay inputs through a fresh engine of the rule set (so no correlation
 * window spans two calls) and report every rule that fires on them.
 *
 * @example firedOn(['detonation.json'], ruleSet, { sources, source: 'cloudtrail' }).fired.has(ruleId)
 */
export function firedOn(
  inputs: ReplayInput[],
  ruleSet: RuleSet,
  options: Omit<ReplayOptions<SigmaMatch>, 'detectors'>,
): Fired {
  const detector = sigmaReplayDetector(new SigmaEngine(ruleSet), { includeSilent: true });
  const out: Fired = { fired: new Set(), events: 0 };
  for (const item of replaySync(inputs, { ...options, detectors: [detector] })) {
    if (item.kind === 'alert') out.fired.add(item.alert.rule.id);
    else if (item.kind === 'skipped') out.skipped ??= item.reason;
    else if (item.kind === 'document') {
      out.events += item.normalised;
      out.recordError ??= item.errors[0];
    }
  }
  return out;
}

/**
 * The rules that fire on a case: its records (with `base` merged under
 * each) read by the named source in the order given, as one sequence.
 */
function caseFired(
  samples: SamplesDoc,
  c: SampleCase,
  ruleSet: RuleSet,
  sources: SourceRegistry,
): { fired: Set<string>; error?: undefined } | { error: string } {
  // `base` is written in the file's source format: it applies to the cases of that source.
  const base = c.source === undefined || c.source === samples.source ? samples.base : undefined;
  const records = (c.records ?? [c.record]).map((r) => (base && isObj(r) ? deepMerge(base, r) : r));
  const out = firedOn([{ name: c.name, source: c.source ?? samples.source, records }], ruleSet, {
    sources,
    order: 'input',
    receivedAt: '2024-01-01T00:00:00Z',
  });
  if (out.skipped !== undefined) return { error: out.skipped };
  const e = out.recordError;
  if (e) return { error: `record ${e.at} does not normalise: ${e.message}` };
  if (out.events === 0) return { error: 'the records produce no event' };
  return { fired: out.fired };
}

/** The rule file compiled again, alone, with `placeholders` over the set's own. */
function withPlaceholders(ruleSet: RuleSet, file: string, placeholders: Record<string, string[]>): RuleSet {
  const options = {
    ...ruleSet.options,
    placeholders: { ...ruleSet.options.placeholders, ...placeholders },
  };
  return new RuleSet(ruleSet.pipelines, ruleSet.fields, options).loadPaths([file]).finish();
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
    // A rule over a placeholder (an operator's list) is tested with the values its samples bring:
    // its file is compiled again with them, alone, over the same pipelines.
    const set = samples.doc.placeholders
      ? withPlaceholders(ruleSet, file, samples.doc.placeholders)
      : ruleSet;
    if (set !== ruleSet) issues.push(...set.issues);
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
        const unknown = targets.filter((t) => !set.get(t));
        if (unknown.length) {
          results.push({ ...base, ok: false, detail: `no rule has the id ${unknown.join(', ')}` });
          return;
        }
        const out = caseFired(samples.doc, c, set, sources);
        if (out.error !== undefined) {
          results.push({ ...base, ok: false, detail: out.error });
          return;
        }
        const { fired } = out;
        const ids = targets.map((t) => set.get(t)!.id);
        const ok = kind === 'match' ? ids.every((id) => fired.has(id)) : ids.every((id) => !fired.has(id));
        const result: SampleResult = { ...base, ok };
        if (!ok) result.detail = kind === 'match' ? 'the rule did not fire' : 'the rule fired';
        results.push(result);
      });
    }
  }
  return { results, issues };
}
