import { type AttackKnowledge, attackLabel, currentTechniqueId } from '../attack/model.ts';
import type { LabelledText } from './corpus.ts';
import { documentKey, type Split, splitOf } from './datasets.ts';
import { TechniqueMapper } from './index.ts';
import { bestThreshold, foldToParents, type RankedPrediction, scoreMapping } from './metrics.ts';
import type { MapperParams } from './model.ts';

export type EvalSplit = 'all' | Split;

export interface MappingEvaluation {
  n: number;
  top1: number;
  recall_at_5: number;
  micro_f1: number;
  macro_f1: number;
  /** The same scores after folding sub-techniques into their parents. */
  parent: { top1: number; recall_at_5: number; micro_f1: number; macro_f1: number };
  threshold: number;
  relative: number;
  micro_precision: number;
  micro_recall: number;
  split: EvalSplit;
  attack: string;
  training: {
    passages: number;
    extra_examples: number;
    /** Extra examples left out because their document (or text) is among those measured. */
    dropped_overlapping: number;
  };
  /** Labels that are neither current nor revoked techniques of this ATT&CK release (they count as misses). */
  unknown_labels: string[];
  /** Labels of revoked techniques, measured as the technique that replaced them. */
  remapped_labels: number;
  texts_per_second: number;
  /**
   * Per-document F1, averaged over documents: a document's predicted
   * techniques are the union of its texts' predictions, its labels the union
   * of theirs (how TRAM2 results are often reported). Absent when no example
   * names its document.
   */
  per_document_f1?: number;
  documents?: number;
  /** With `tune`: the decision that maximises micro-F1 on this data (only ever tune on development data). */
  tuned?: { threshold: number; relative: number; micro_f1: number };
}

export interface EvaluateOptions {
  attack: Pick<
    AttackKnowledge,
    'techniques' | 'procedures' | 'revoked' | 'version' | 'spec_version' | 'modified'
  >;
  data: readonly LabelledText[];
  /** Extra training examples; those sharing a document or a text with the measured examples are dropped. */
  train?: readonly LabelledText[];
  split?: EvalSplit;
  params?: Partial<MapperParams>;
  tune?: boolean;
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/**
 * Measure the mapper on labelled text it was not fitted on. With a split
 * (`dev`, `test`), only that split's documents are measured and extra
 * training keeps only documents of earlier splits (`test` → train and dev;
 * `dev` → train). With `all`, every example is measured and training keeps
 * only documents that are not measured. Exact-text duplicates are dropped
 * from training in every case.
 *
 * @example evaluateMapping({ attack, data: readLabelled('dev.jsonl'), split: 'all' }).top1
 */
/**
 * The examples measured and the extra training that may be used beside
 * them: with a split, only that split's documents are measured and training
 * keeps only documents of earlier splits (`test` → train and dev; `dev` →
 * train; `train` → none of the data's own documents); with `all`, training
 * keeps only documents that are not measured. Exact-text duplicates are
 * dropped from training in every case.
 */
export function measuredAndTraining(
  data: readonly LabelledText[],
  extra: readonly LabelledText[],
  split: EvalSplit,
): { data: LabelledText[]; train: LabelledText[]; dropped: number } {
  const measured = split === 'all' ? [...data] : data.filter((e) => splitOf(e) === split);
  const measuredDocs = new Set(measured.map(documentKey));
  const measuredTexts = new Set(measured.map((e) => e.text.trim().toLowerCase()));
  const allowed: ReadonlySet<Split> =
    split === 'test'
      ? new Set(['train', 'dev'])
      : split === 'dev'
        ? new Set(['train'])
        : split === 'train'
          ? new Set()
          : new Set(['train', 'dev', 'test']);
  const train: LabelledText[] = [];
  let dropped = 0;
  const seen = new Set<string>();
  for (const e of extra) {
    const text = e.text.trim().toLowerCase();
    if (!allowed.has(splitOf(e)) || measuredDocs.has(documentKey(e)) || measuredTexts.has(text)) {
      dropped++;
      continue;
    }
    if (seen.has(text)) continue;
    seen.add(text);
    train.push(e);
  }
  return { data: measured, train, dropped };
}

export function evaluateMapping(options: EvaluateOptions): MappingEvaluation {
  const split = options.split ?? 'all';
  const { data, train, dropped } = measuredAndTraining(options.data, options.train ?? [], split);
  const mapper = TechniqueMapper.fit(options.attack, { extra: train, params: options.params });
  const unknown = new Set<string>();
  let remapped = 0;
  const t0 = performance.now();
  const rankings = data.map((e) => mapper.rank(e.text, 10));
  const seconds = (performance.now() - t0) / 1000;
  const preds: RankedPrediction[] = data.map((e, i) => {
    const gold = e.labels.map((l) => {
      const current = currentTechniqueId(options.attack, l);
      if (!current) unknown.add(l);
      else if (current !== l) remapped++;
      return current ?? l;
    });
    const ranked = rankings[i]!;
    const decided = new Set(mapper.model.decide(ranked).map((r) => r.technique_id));
    // Scores of techniques the decision rejects are zeroed, so the threshold in scoreMapping applies the full rule.
    return {
      gold,
      ranked: ranked.map((r) => ({
        technique_id: r.technique_id,
        score: decided.has(r.technique_id) ? r.score : 0,
      })),
    };
  });
  const { threshold, relative } = mapper.params;
  const exact = scoreMapping(preds, threshold);
  const parent = scoreMapping(preds.map(foldToParents), threshold);
  const result: MappingEvaluation = {
    n: exact.n,
    top1: round(exact.top1),
    recall_at_5: round(exact.recall_at_5),
    micro_f1: round(exact.micro_f1),
    macro_f1: round(exact.macro_f1),
    parent: {
      top1: round(parent.top1),
      recall_at_5: round(parent.recall_at_5),
      micro_f1: round(parent.micro_f1),
      macro_f1: round(parent.macro_f1),
    },
    threshold,
    relative,
    micro_precision: round(exact.micro_precision),
    micro_recall: round(exact.micro_recall),
    split,
    attack: attackLabel(options.attack),
    training: {
      passages: mapper.trainedOn.passages,
      extra_examples: train.length,
      dropped_overlapping: dropped,
    },
    unknown_labels: [...unknown].sort(),
    remapped_labels: remapped,
    texts_per_second: Math.round(data.length / Math.max(seconds, 1e-9)),
  };
  const byDoc = new Map<string, { gold: Set<string>; predicted: Set<string> }>();
  data.forEach((e, i) => {
    if (e.doc === undefined) return;
    const d = byDoc.get(e.doc) ?? { gold: new Set<string>(), predicted: new Set<string>() };
    byDoc.set(e.doc, d);
    for (const g of preds[i]!.gold) d.gold.add(g);
    for (const r of preds[i]!.ranked)
      if (r.score >= threshold && r.score > 0) d.predicted.add(r.technique_id);
  });
  if (byDoc.size) {
    let sum = 0;
    for (const d of byDoc.values()) {
      let tp = 0;
      for (const p of d.predicted) if (d.gold.has(p)) tp++;
      sum += tp === 0 ? 0 : (2 * tp) / (d.predicted.size + d.gold.size);
    }
    result.per_document_f1 = round(sum / byDoc.size);
    result.documents = byDoc.size;
  }
  if (options.tune) {
    let best = { threshold, relative, micro_f1: -1 };
    for (const rel of [0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]) {
      const rankedRel: RankedPrediction[] = rankings.map((ranked, i) => {
        const best0 = ranked[0]?.score ?? 0;
        return {
          gold: preds[i]!.gold,
          ranked: ranked.map((r) => ({
            technique_id: r.technique_id,
            score: r.score >= rel * best0 ? r.score : 0,
          })),
        };
      });
      const b = bestThreshold(rankedRel);
      if (b.micro_f1 > best.micro_f1)
        best = { threshold: b.threshold, relative: rel, micro_f1: round(b.micro_f1) };
    }
    result.tuned = best;
  }
  return result;
}
