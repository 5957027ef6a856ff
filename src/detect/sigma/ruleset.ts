import type { ZodError } from 'zod';
import { overrideOf } from '../levels.ts';
import { type CompileContext, type CompiledDetection, compileDetection, type Match } from './compile.ts';
import { FieldRegistry } from './fields.ts';
import { listRuleFiles, type RuleFileDoc, readRuleFile } from './files.ts';
import { RuleError, RuleErrors, type SigmaIssue } from './issues.ts';
import {
  asList,
  CorrelationRuleDoc,
  type CorrelationType,
  DetectionRuleDoc,
  documentKind,
  FilterDoc,
  type LogSource,
  parseTimespan,
  type SigmaLevel,
  type SigmaStatus,
} from './model.ts';
import type { ParseCache } from './parse-cache.ts';
import { type Branch, Pipelines } from './pipeline.ts';
import type { RegexEngine } from './regex.ts';

/** What every loaded rule carries for reports and alerts. */
interface RuleMeta {
  /** The rule id, or `<file>#<n>` for rules without one. */
  id: string;
  name?: string;
  title: string;
  /** The level alerts carry: the rule's own, capped by its status or set by configuration. */
  level: SigmaLevel;
  /** The level the rule states, when {@link level} differs from it. */
  ruleLevel?: SigmaLevel;
  /** Why {@link level} differs from the rule's own (a status cap, a configured override). */
  levelReason?: string;
  status?: SigmaStatus;
  tags: string[];
  description?: string;
  falsepositives: string[];
  file: string;
  line: number;
  /** The document as written (custom attributes such as `aisoc:` live here). */
  doc: Record<string, unknown>;
}

/** A detection rule compiled into a matcher, with the branches (event families) it runs on. */
export interface CompiledRule extends RuleMeta {
  kind: 'detection';
  logsource: LogSource;
  match: Match;
  detection: CompiledDetection;
  /** Branches of the pipelines where the rule runs (empty: no pipeline maps its log source). */
  branches: Branch[];
  /** Whether a match raises an alert by itself (false for rules only correlations use). */
  generate: boolean;
  /** Sigma filters: their condition is ANDed to the rule's where their log source applies. */
  filters: Array<{ id: string; match: Match; branches: Set<Branch> }>;
}

export interface CountCondition {
  gt?: number;
  gte?: number;
  lt?: number;
  lte?: number;
  eq?: number;
}

/** A correlation rule with its references resolved. */
export interface CompiledCorrelation extends RuleMeta {
  kind: 'correlation';
  type: CorrelationType;
  /** Ids of the referenced rules or correlations, in order. */
  rules: string[];
  groupBy: string[];
  timespanMs: number;
  condition: CountCondition;
  /** value_count: the field whose distinct values are counted. */
  valueField?: string;
  /** alias → rule id → field name. */
  aliases: Record<string, Record<string, string>>;
  generate: boolean;
}

export interface RuleSetOptions {
  regexEngine?: RegexEngine;
  placeholders?: Readonly<Record<string, readonly string[]>>;
  unknownPlaceholder?: 'empty' | 'reject';
  /** Skip rules with status deprecated or unsupported (they are counted, not loaded). */
  skipDeprecated?: boolean;
  /** The highest default level of a rule of each status (`detect.sigma.status_caps`). */
  statusCaps?: Readonly<Partial<Record<SigmaStatus, SigmaLevel>>>;
  /** Levels set by configuration, by rule id or title (`detect.sigma.level_overrides`); they win over caps. */
  levelOverrides?: Readonly<Record<string, SigmaLevel>>;
  /** Levels set for every rule (`detect.level_overrides`), by rule id or title: read after {@link levelOverrides}. */
  generalLevelOverrides?: Readonly<Record<string, SigmaLevel>>;
  /** Parsed files kept between loads (`parse-cache.ts`). */
  parseCache?: ParseCache;
}

export interface LoadStats {
  files: number;
  documents: number;
  detection: number;
  correlation: number;
  filter: number;
  invalid: number;
  unsupported: number;
  skipped_deprecated: number;
  /** Detection rules some pipeline maps to our sources. */
  runnable: number;
  /** Detection rules whose log source no pipeline maps (loaded, never offered events). */
  unmapped: number;
  warnings: number;
}

/**
 * A set of compiled Sigma rules. Loading never stops at a broken rule: each
 * problem becomes a located {@link SigmaIssue} and the rest load.
 *
 * @example
 * const set = new RuleSet(pipelines, registry);
 * set.loadPaths(['content/rules', '../shared/data/sigma/rules']);
 * console.log(set.stats(), set.issues.length);
 */
export class RuleSet {
  readonly rules: CompiledRule[] = [];
  readonly correlations: CompiledCorrelation[] = [];
  readonly issues: SigmaIssue[] = [];
  private readonly byRef = new Map<string, CompiledRule | CompiledCorrelation>();
  private readonly pendingCorrelations: Array<{ doc: RuleFileDoc; value: CorrelationRuleDoc }> = [];
  private readonly pendingFilters: Array<{ doc: RuleFileDoc; value: FilterDoc }> = [];
  private files = 0;
  private documents = 0;
  private skippedDeprecated = 0;
  private finished = false;
  private readonly ctxBase: Omit<CompileContext, 'warn'>;

  constructor(
    readonly pipelines: Pipelines,
    readonly fields: FieldRegistry = new FieldRegistry(),
    readonly options: RuleSetOptions = {},
  ) {
    this.ctxBase = {
      fields,
      regexEngine: options.regexEngine ?? 're2',
      placeholders: options.placeholders ?? {},
      unknownPlaceholder: options.unknownPlaceholder ?? 'empty',
    };
  }

  /** Load every rule file under the given files or directories. */
  loadPaths(paths: readonly string[]): this {
    const { files, issues } = listRuleFiles(paths);
    this.issues.push(...issues);
    for (const f of files) {
      const { docs, issue } = readRuleFile(f, this.options.parseCache);
      this.files++;
      if (issue) this.issues.push(issue);
      for (const d of docs) this.addDoc(d);
    }
    return this;
  }

  /** Load parsed documents (from a file or from text). */
  addDocs(docs: readonly RuleFileDoc[]): this {
    this.files += new Set(docs.map((d) => d.file)).size;
    for (const d of docs) this.addDoc(d);
    return this;
  }

  private issue(doc: RuleFileDoc, err: unknown, rule?: string): void {
    if (err instanceof RuleErrors) {
      for (const e of err.errors) this.issue(doc, e, rule);
      return;
    }
    if (err instanceof RuleError) {
      this.issues.push({
        kind: err.kind,
        file: doc.file,
        line: err.line ?? (err.path ? doc.lineOf(err.path) : doc.line),
        ...(rule ? { rule } : {}),
        message: err.message,
      });
      return;
    }
    this.issues.push({
      kind: 'invalid',
      file: doc.file,
      line: doc.line,
      ...(rule ? { rule } : {}),
      message: `internal error while compiling: ${(err as Error).message}`,
    });
  }

  private zodIssues(doc: RuleFileDoc, error: ZodError, rule?: string): void {
    for (const i of error.issues) {
      const path = i.path.filter((p): p is string | number => typeof p !== 'symbol');
      this.issues.push({
        kind: 'invalid',
        file: doc.file,
        line: doc.lineOf(path),
        ...(rule ? { rule } : {}),
        message: `${path.join('.') || '(document)'}: ${i.message}`,
      });
    }
  }

  private addDoc(doc: RuleFileDoc): void {
    this.documents++;
    if (doc.error) {
      this.issues.push({
        kind: 'invalid',
        file: doc.file,
        line: doc.error.line,
        message: `YAML: ${doc.error.message}`,
      });
      return;
    }
    const value = doc.value;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.issues.push({
        kind: 'invalid',
        file: doc.file,
        line: doc.line,
        message: 'a rule document must be a map',
      });
      return;
    }
    const obj = value as Record<string, unknown>;
    const label = typeof obj.id === 'string' ? obj.id : typeof obj.title === 'string' ? obj.title : undefined;
    const kind = documentKind(obj);
    if (kind === 'correlation') {
      const parsed = CorrelationRuleDoc.safeParse(obj);
      if (!parsed.success) {
        this.zodIssues(doc, parsed.error, label);
        return;
      }
      this.pendingCorrelations.push({ doc, value: parsed.data });
      return;
    }
    if (kind === 'filter') {
      const parsed = FilterDoc.safeParse(obj);
      if (!parsed.success) {
        this.zodIssues(doc, parsed.error, label);
        return;
      }
      this.pendingFilters.push({ doc, value: parsed.data });
      return;
    }
    const parsed = DetectionRuleDoc.safeParse(obj);
    if (!parsed.success) {
      this.zodIssues(doc, parsed.error, label);
      return;
    }
    const r = parsed.data;
    if (this.options.skipDeprecated && (r.status === 'deprecated' || r.status === 'unsupported')) {
      this.skippedDeprecated++;
      return;
    }
    const id = r.id ?? `${doc.file}#${doc.index}`;
    if (!r.id)
      this.warn(doc, 'the rule has no id; correlations and alerts will use its file name', ['title'], label);
    if (this.byRef.has(id)) {
      this.issues.push({
        kind: 'invalid',
        file: doc.file,
        line: doc.lineOf(['id']),
        rule: id,
        message: `duplicate rule id ${id} (first in ${this.byRef.get(id)!.file})`,
      });
      return;
    }
    let detection: CompiledDetection;
    try {
      detection = compileDetection(r.detection, this.context(doc, label));
    } catch (err) {
      this.issue(doc, err, label);
      return;
    }
    const rule: CompiledRule = {
      kind: 'detection',
      ...this.meta(doc, r, id),
      logsource: r.logsource,
      match: detection.match,
      detection,
      branches: this.pipelines.branchesFor(r.logsource),
      generate: true,
      filters: [],
    };
    this.register(rule, doc);
  }

  private meta(
    doc: RuleFileDoc,
    r: {
      title: string;
      name?: string;
      level?: SigmaLevel;
      status?: SigmaStatus;
      tags?: string[];
      description?: string;
      falsepositives?: string | string[];
    },
    id: string,
  ): RuleMeta {
    const own = r.level ?? 'medium';
    const { level, reason } = this.levelOf(id, r.title, own, r.status);
    const meta: RuleMeta = {
      id,
      title: r.title,
      level,
      tags: r.tags ?? [],
      falsepositives: asList(r.falsepositives),
      file: doc.file,
      line: doc.line,
      doc: doc.value as Record<string, unknown>,
    };
    if (reason) {
      meta.ruleLevel = own;
      meta.levelReason = reason;
    }
    if (r.name) meta.name = r.name;
    if (r.status) meta.status = r.status;
    if (r.description) meta.description = r.description;
    return meta;
  }

  /**
   * A rule's level: a configured override (by id, else by title; those of
   * `detect.sigma.level_overrides` before those of `detect.level_overrides`) as set;
   * else its own level, capped by its status. A rule still in testing may
   * not claim the certainty of a stable one.
   */
  private levelOf(
    id: string,
    title: string,
    own: SigmaLevel,
    status: SigmaStatus | undefined,
  ): { level: SigmaLevel; reason?: string } {
    const sigma = overrideOf(this.options.levelOverrides ?? {}, id, title);
    const general =
      sigma === undefined ? overrideOf(this.options.generalLevelOverrides ?? {}, id, title) : undefined;
    const set = sigma ?? general;
    if (set !== undefined)
      return set === own
        ? { level: own }
        : {
            level: set,
            reason: `set to ${set} by ${sigma !== undefined ? 'detect.sigma.level_overrides' : 'detect.level_overrides'}`,
          };
    const cap = status ? this.options.statusCaps?.[status] : undefined;
    if (cap !== undefined && LEVEL_ORDER.indexOf(cap) < LEVEL_ORDER.indexOf(own))
      return {
        level: cap,
        reason: `status ${status} caps the rule's level at ${cap} (detect.sigma.status_caps)`,
      };
    return { level: own };
  }

  private register(rule: CompiledRule | CompiledCorrelation, doc: RuleFileDoc): void {
    if (rule.name) {
      const prev = this.byRef.get(rule.name);
      if (prev && prev !== rule) {
        this.issues.push({
          kind: 'invalid',
          file: doc.file,
          line: doc.lineOf(['name']),
          rule: rule.id,
          message: `duplicate rule name ${rule.name} (first in ${prev.file})`,
        });
      } else this.byRef.set(rule.name, rule);
    }
    this.byRef.set(rule.id, rule);
    if (rule.kind === 'detection') this.rules.push(rule);
    else this.correlations.push(rule);
  }

  private warn(doc: RuleFileDoc, message: string, path: ReadonlyArray<string | number>, rule?: string): void {
    this.issues.push({
      kind: 'warning',
      file: doc.file,
      line: doc.lineOf(path),
      ...(rule ? { rule } : {}),
      message,
    });
  }

  private context(doc: RuleFileDoc, label: string | undefined): CompileContext {
    return { ...this.ctxBase, warn: (message, path) => this.warn(doc, message, path, label) };
  }

  /**
   * Resolve correlation and filter references once every file is loaded
   * (they may point at rules in later files). Idempotent.
   */
  finish(): this {
    if (this.finished) return this;
    this.finished = true;
    for (const { doc, value } of this.pendingFilters) this.applyFilter(doc, value);
    // Correlations may reference correlations: resolve until no progress.
    let pending = [...this.pendingCorrelations];
    for (let round = 0; pending.length > 0 && round < 16; round++) {
      const next: typeof pending = [];
      for (const p of pending) {
        const refs = asList(p.value.correlation.rules);
        if (
          refs.some((r) => !this.byRef.has(r)) &&
          refs.some((r) => pending.some((q) => q.value.name === r || q.value.id === r))
        ) {
          next.push(p);
          continue;
        }
        this.addCorrelation(p.doc, p.value);
      }
      if (next.length === pending.length) {
        for (const p of next) this.addCorrelation(p.doc, p.value);
        break;
      }
      pending = next;
    }
    this.pendingCorrelations.length = 0;
    return this;
  }

  private addCorrelation(doc: RuleFileDoc, c: CorrelationRuleDoc): void {
    const label = c.id ?? c.title;
    const corr = c.correlation;
    const fail = (message: string, path: Array<string | number>) => {
      this.issues.push({ kind: 'invalid', file: doc.file, line: doc.lineOf(path), rule: label, message });
    };
    const timespanMs = parseTimespan(corr.timespan);
    if (timespanMs === undefined || timespanMs <= 0) {
      fail(`correlation.timespan ${JSON.stringify(corr.timespan)} is not a number followed by s, m, h or d`, [
        'correlation',
        'timespan',
      ]);
      return;
    }
    const refs = asList(corr.rules);
    if (refs.length === 0) {
      fail('correlation.rules is empty', ['correlation', 'rules']);
      return;
    }
    const resolved: Array<CompiledRule | CompiledCorrelation> = [];
    for (const [i, ref] of refs.entries()) {
      const target = this.byRef.get(ref);
      if (!target) {
        fail(`correlation.rules[${i}]: no rule has the id or name ${JSON.stringify(ref)}`, [
          'correlation',
          'rules',
          i,
        ]);
        return;
      }
      resolved.push(target);
    }
    const groupBy = asList(corr['group-by']);
    const condition: CountCondition = {};
    for (const k of ['gt', 'gte', 'lt', 'lte', 'eq'] as const) {
      const v = corr.condition?.[k];
      if (v !== undefined) condition[k] = v;
    }
    const needsCondition = corr.type === 'event_count' || corr.type === 'value_count';
    if (needsCondition && Object.keys(condition).length === 0) {
      fail(`a ${corr.type} correlation needs a condition (gte, gt, lt, lte or eq)`, [
        'correlation',
        'condition',
      ]);
      return;
    }
    if (corr.type === 'value_count' && !corr.condition?.field) {
      fail('a value_count correlation needs condition.field', ['correlation', 'condition']);
      return;
    }
    if (needsCondition && groupBy.length === 0) {
      this.warn(
        doc,
        `correlation.group-by is empty: all ${corr.type} events share one group`,
        ['correlation'],
        label,
      );
    }
    const aliases: Record<string, Record<string, string>> = {};
    for (const [alias, perRule] of Object.entries(corr.aliases ?? {})) {
      aliases[alias] = {};
      for (const [ref, field] of Object.entries(perRule)) {
        const target = this.byRef.get(ref);
        if (!target) {
          fail(`correlation.aliases.${alias}: no rule named ${JSON.stringify(ref)}`, [
            'correlation',
            'aliases',
            alias,
          ]);
          return;
        }
        aliases[alias]![target.id] = field;
      }
    }
    const id = c.id ?? `${doc.file}#${doc.index}`;
    const levels = resolved.map((r) => r.level);
    const meta = this.meta(doc, { ...c, level: c.level ?? maxLevel(levels) }, id);
    const compiled: CompiledCorrelation = {
      kind: 'correlation',
      ...meta,
      type: corr.type,
      rules: resolved.map((r) => r.id),
      groupBy,
      timespanMs,
      condition,
      aliases,
      generate: corr.generate ?? false,
    };
    if (corr.condition?.field) compiled.valueField = corr.condition.field;
    if (this.byRef.has(id)) {
      fail(`duplicate rule id ${id} (first in ${this.byRef.get(id)!.file})`, ['id']);
      return;
    }
    // Referenced rules stop alerting on their own unless the correlation says generate: true.
    if (!compiled.generate) for (const r of resolved) if (r.kind === 'detection') r.generate = false;
    for (const r of resolved) if (r.kind === 'correlation' && !compiled.generate) r.generate = false;
    this.register(compiled, doc);
  }

  private applyFilter(doc: RuleFileDoc, f: FilterDoc): void {
    const label = f.id ?? f.title;
    const { rules: refs, ...selection } = f.filter;
    let compiled: CompiledDetection;
    try {
      compiled = compileDetection(selection as Record<string, unknown>, this.context(doc, label), ['filter']);
    } catch (err) {
      this.issue(doc, err, label);
      return;
    }
    const branches = new Set(this.pipelines.branchesFor(f.logsource));
    for (const [i, ref] of asList(refs).entries()) {
      const target = this.byRef.get(ref);
      if (target?.kind !== 'detection') {
        this.warn(
          doc,
          `filter.rules[${i}]: no detection rule has the id or name ${JSON.stringify(ref)}`,
          ['filter', 'rules', i],
          label,
        );
        continue;
      }
      target.filters.push({ id: f.id ?? label, match: compiled.match, branches });
    }
  }

  /** Look a rule or correlation up by id or name. */
  get(ref: string): CompiledRule | CompiledCorrelation | undefined {
    return this.byRef.get(ref);
  }

  /** Counts of what loaded and what did not. */
  stats(): LoadStats {
    const count = (k: SigmaIssue['kind']) => this.issues.filter((i) => i.kind === k).length;
    const runnable = this.rules.filter((r) => r.branches.length > 0).length;
    return {
      files: this.files,
      documents: this.documents,
      detection: this.rules.length,
      correlation: this.correlations.length,
      filter: this.pendingFilters.length,
      invalid: count('invalid'),
      unsupported: count('unsupported'),
      skipped_deprecated: this.skippedDeprecated,
      runnable,
      unmapped: this.rules.length - runnable,
      warnings: count('warning'),
    };
  }
}

const LEVEL_ORDER: SigmaLevel[] = ['informational', 'low', 'medium', 'high', 'critical'];

function maxLevel(levels: SigmaLevel[]): SigmaLevel {
  let best = 0;
  for (const l of levels) best = Math.max(best, LEVEL_ORDER.indexOf(l));
  return LEVEL_ORDER[best] ?? 'medium';
}

/** Build pipelines from validated documents. */
export function buildPipelines(
  registry: FieldRegistry,
  docs: ReadonlyArray<{ file: string; doc: import('./pipeline.ts').PipelineDoc }>,
): Pipelines {
  const p = new Pipelines(registry);
  for (const d of docs) p.add(d.doc, d.file);
  return p;
}
