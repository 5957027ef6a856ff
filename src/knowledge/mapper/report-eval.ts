import {
  type AttackDomain,
  type AttackKnowledge,
  attackLabel,
  currentTechniqueId,
  parentTechniqueId,
} from '../attack/model.ts';
import type { LabelledText } from './corpus.ts';
import { type EvalSplit, measuredAndTraining } from './evaluate.ts';
import { TechniqueMapper } from './index.ts';
import { type SetScores, scoreSets } from './metrics.ts';
import type { MapperParams } from './model.ts';
import {
  aggregateReport,
  DEFAULT_REPORT_PARAMS,
  type ReportMapping,
  type ReportParams,
  rankSentences,
  type SentenceRanking,
} from './report.ts';

/** A report to map: its text and the techniques it is labelled with. */
export interface LabelledReport {
  doc: string;
  text: string;
  labels: string[];
}

/**
 * Reports out of labelled texts: the texts of one document, in order, each
 * its own paragraph, labelled with the union of their labels. A text without
 * a document is a report of its own (a CTI-ATE description).
 *
 * @example groupReports([{ text: 'a.', labels: ['T1059'], doc: 'r1' }, { text: 'b.', labels: [], doc: 'r1' }])
 * // [{ doc: 'r1', text: 'a.\n\nb.', labels: ['T1059'] }]
 */
export function groupReports(data: readonly LabelledText[]): LabelledReport[] {
  const out = new Map<string, { texts: string[]; labels: Set<string> }>();
  data.forEach((e, i) => {
    const key = e.doc ?? `#${i}`;
    const r = out.get(key) ?? { texts: [], labels: new Set<string>() };
    out.set(key, r);
    if (!r.texts.includes(e.text)) r.texts.push(e.text);
    for (const l of e.labels) r.labels.add(l);
  });
  return [...out.entries()].map(([doc, r]) => ({
    doc,
    text: r.texts.join('\n\n'),
    labels: [...r.labels].sort(),
  }));
}

/** How a report becomes techniques: `sentences` (aggregated, the report mapper) or `whole` (the whole text as one mapper query, as before). */
export type ReportMethod = 'sentences' | 'whole';

/** Picks techniques among the mapper's candidates (an LLM); returns ids. */
export type CandidateSelector = (report: string, mapping: ReportMapping) => Promise<string[]>;

export interface ReportEvaluation extends Omit<SetScores, 'n'> {
  reports: number;
  sentences: number;
  method: ReportMethod;
  /** The same scores after folding sub-techniques into their parents (labels and predictions). */
  parent: Omit<SetScores, 'n' | 'predicted_per_report' | 'labels_per_report'>;
  params?: ReportParams;
  whole?: { threshold: number; relative: number };
  split: EvalSplit;
  attack: string;
  domains: AttackDomain[];
  training: { passages: number; extra_examples: number; dropped_overlapping: number };
  unknown_labels: string[];
  remapped_labels: number;
  reports_per_second: number;
  /** With `tune`: the report parameters that maximise micro-F1 here (tune on training data only). */
  tuned?: { params: ReportParams; micro_f1: number; macro_f1: number };
  /** With a selector: how its choices went. */
  selection?: { reports: number; failed: number; errors: string[] };
}

export interface ReportEvaluateOptions {
  attack: Pick<
    AttackKnowledge,
    'techniques' | 'procedures' | 'revoked' | 'version' | 'spec_version' | 'modified' | 'domains'
  >;
  data: readonly LabelledText[];
  train?: readonly LabelledText[];
  split?: EvalSplit;
  params?: Partial<MapperParams>;
  reportParams?: Partial<ReportParams>;
  method?: ReportMethod;
  domains?: readonly AttackDomain[];
  tune?: boolean;
  select?: CandidateSelector;
}

const round = (x: number) => Math.round(x * 1000) / 1000;

function roundScores<T extends object>(s: T): T {
  return Object.fromEntries(
    Object.entries(s).map(([k, v]) => [k, typeof v === 'number' ? round(v) : v]),
  ) as T;
}

/**
 * The grid searched by `tune`. `relative` stops below 1 (only each
 * sentence's best technique): TRAM2, the calibration data, labels exactly
 * one technique per sentence by construction, and calibrating on it would
 * learn that artefact; real report sentences often show two.
 */
const GRID = {
  floor: [0.02, 0.04, 0.06, 0.08, 0.1, 0.12, 0.15, 0.2],
  relative: [0, 0.5, 0.6, 0.7, 0.8, 0.9],
  threshold: [0.05, 0.06, 0.07, 0.08, 0.09, 0.1, 0.11, 0.12, 0.14, 0.16, 0.18, 0.2, 0.25, 0.3, 0.4, 0.5],
};

/**
 * Measure whole-report mapping: each report's predicted technique set
 * against its labels (micro, macro and per-report F1, exact and folded to
 * parents). The split hygiene is the sentence evaluation's
 * ({@link measuredAndTraining}), by document.
 *
 * @example (await evaluateReports({ attack, data: readLabelled('tram2.jsonl'), split: 'test' })).micro_f1
 */
export async function evaluateReports(options: ReportEvaluateOptions): Promise<ReportEvaluation> {
  const split = options.split ?? 'all';
  const { data, train, dropped } = measuredAndTraining(options.data, options.train ?? [], split);
  const mapper = TechniqueMapper.fit(options.attack, { extra: train, params: options.params });
  const method = options.method ?? 'sentences';
  const domains = options.domains ?? options.attack.domains?.map((d) => d.domain) ?? ['enterprise'];
  const reports = groupReports(data);
  const unknown = new Set<string>();
  let remapped = 0;
  const gold = reports.map((r) =>
    r.labels.map((l) => {
      const current = currentTechniqueId(options.attack, l);
      if (!current) unknown.add(l);
      else if (current !== l) remapped++;
      return current ?? l;
    }),
  );
  const params: ReportParams = { ...DEFAULT_REPORT_PARAMS, ...options.reportParams };
  const t0 = performance.now();
  let sentences = 0;
  let predicted: string[][];
  let rankings: SentenceRanking[][] = [];
  const selection = options.select ? { reports: 0, failed: 0, errors: [] as string[] } : undefined;
  if (method === 'whole') {
    predicted = reports.map((r) => mapper.map(r.text, { topK: 10, domains }).map((m) => m.technique_id));
    sentences = reports.length;
  } else {
    const perSentence = Math.max(params.per_sentence, 10);
    rankings = [];
    for (const r of reports) rankings.push(await rankSentences(mapper, r.text, { domains, perSentence }));
    sentences = rankings.reduce((n, r) => n + r.length, 0);
    const domainOf = (id: string) => mapper.model.domainOf(id) ?? 'enterprise';
    predicted = [];
    for (const [i, r] of rankings.entries()) {
      const all = aggregateReport(r, params, domainOf);
      const decided = all.filter((t) => t.score >= params.threshold).map((t) => t.technique_id);
      if (!options.select || !selection) {
        predicted.push(decided);
        continue;
      }
      selection.reports++;
      try {
        const mapping: ReportMapping = {
          sentences: r.length,
          techniques: all.filter((t) => t.score >= params.threshold),
          candidates: all.slice(0, 30),
          params,
        };
        predicted.push(await options.select(reports[i]!.text, mapping));
      } catch (err) {
        selection.failed++;
        if (selection.errors.length < 5) selection.errors.push((err as Error).message);
        predicted.push(decided);
      }
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const items = reports.map((_, i) => ({ gold: gold[i]!, predicted: predicted[i]! }));
  const exact = scoreSets(items);
  const parent = scoreSets(
    items.map((it) => ({
      gold: [...new Set(it.gold.map(parentTechniqueId))],
      predicted: [...new Set(it.predicted.map(parentTechniqueId))],
    })),
  );
  const { n: _n, ...exactScores } = roundScores(exact);
  const { n: _pn, predicted_per_report: _pp, labels_per_report: _pl, ...parentScores } = roundScores(parent);
  const result: ReportEvaluation = {
    reports: reports.length,
    sentences,
    method,
    ...exactScores,
    parent: parentScores,
    ...(method === 'whole'
      ? { whole: { threshold: mapper.params.threshold, relative: mapper.params.relative } }
      : { params }),
    split,
    attack: attackLabel(options.attack),
    domains: [...domains],
    training: {
      passages: mapper.trainedOn.passages,
      extra_examples: train.length,
      dropped_overlapping: dropped,
    },
    unknown_labels: [...unknown].sort(),
    remapped_labels: remapped,
    reports_per_second: Math.round((reports.length / Math.max(seconds, 1e-9)) * 10) / 10,
  };
  if (selection) result.selection = selection;
  if (options.tune && method === 'sentences') result.tuned = tuneReportParams(rankings, gold, params);
  return result;
}

/**
 * The report parameters that maximise report-level micro-F1 over a grid
 * (ties: the higher macro-F1). Run it on training data only and bake the
 * result into {@link DEFAULT_REPORT_PARAMS}.
 */
export function tuneReportParams(
  rankings: readonly SentenceRanking[][],
  gold: readonly string[][],
  base: ReportParams,
): { params: ReportParams; micro_f1: number; macro_f1: number } {
  let best = { params: base, micro_f1: -1, macro_f1: -1 };
  for (const floor of GRID.floor)
    for (const relative of GRID.relative) {
      const scored = rankings.map((r) => aggregateReport(r, { ...base, floor, relative }));
      for (const threshold of GRID.threshold) {
        const s = scoreSets(
          scored.map((all, i) => ({
            gold: gold[i]!,
            predicted: all.filter((t) => t.score >= threshold).map((t) => t.technique_id),
          })),
        );
        if (
          s.micro_f1 > best.micro_f1 + 1e-9 ||
          (Math.abs(s.micro_f1 - best.micro_f1) <= 1e-9 && s.macro_f1 > best.macro_f1)
        )
          best = {
            params: { ...base, floor, relative, threshold },
            micro_f1: s.micro_f1,
            macro_f1: s.macro_f1,
          };
      }
    }
  return { params: best.params, micro_f1: round(best.micro_f1), macro_f1: round(best.macro_f1) };
}
