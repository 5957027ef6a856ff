import { parentTechniqueId } from '../attack/model.ts';

/** What the mapper said about one text: its ranked techniques with scores. */
export interface RankedPrediction {
  gold: readonly string[];
  ranked: ReadonlyArray<{ technique_id: string; score: number }>;
}

export interface MappingScores {
  n: number;
  /** Share of texts whose best technique is one of its labels. */
  top1: number;
  /** Share of a text's labels found among its five best techniques, averaged over texts. */
  recall_at_5: number;
  /** F1 over all (text, technique) decisions at the threshold. */
  micro_f1: number;
  /** Mean of per-technique F1 over every technique that is a label or a prediction. */
  macro_f1: number;
  micro_precision: number;
  micro_recall: number;
}

/** Fold sub-techniques into their parents, keeping each parent's best score and rank. */
export function foldToParents(p: RankedPrediction): RankedPrediction {
  const seen = new Set<string>();
  const ranked: Array<{ technique_id: string; score: number }> = [];
  for (const r of p.ranked) {
    const id = parentTechniqueId(r.technique_id);
    if (seen.has(id)) continue;
    seen.add(id);
    ranked.push({ technique_id: id, score: r.score });
  }
  return { gold: [...new Set(p.gold.map(parentTechniqueId))], ranked };
}

/**
 * Score ranked predictions against labels. A technique is predicted when its
 * score reaches `threshold`; a text may get none.
 *
 * @example scoreMapping([{ gold: ['T1059'], ranked: [{ technique_id: 'T1059', score: 0.9 }] }], 0.5).top1 // 1
 */
export function scoreMapping(items: readonly RankedPrediction[], threshold: number): MappingScores {
  let top1 = 0;
  let r5 = 0;
  let tp = 0;
  let fp = 0;
  let fn = 0;
  const per = new Map<string, { tp: number; fp: number; fn: number }>();
  const bump = (id: string, k: 'tp' | 'fp' | 'fn') => {
    const c = per.get(id) ?? { tp: 0, fp: 0, fn: 0 };
    per.set(id, c);
    c[k]++;
  };
  for (const it of items) {
    const gold = new Set(it.gold);
    if (gold.size === 0) continue;
    const best = it.ranked[0];
    if (best && gold.has(best.technique_id)) top1++;
    const five = new Set(it.ranked.slice(0, 5).map((r) => r.technique_id));
    let found = 0;
    for (const g of gold) if (five.has(g)) found++;
    r5 += found / gold.size;
    const predicted = new Set(it.ranked.filter((r) => r.score >= threshold).map((r) => r.technique_id));
    for (const p of predicted) {
      if (gold.has(p)) {
        tp++;
        bump(p, 'tp');
      } else {
        fp++;
        bump(p, 'fp');
      }
    }
    for (const g of gold) {
      if (!predicted.has(g)) {
        fn++;
        bump(g, 'fn');
      }
    }
  }
  const n = items.filter((i) => i.gold.length > 0).length;
  const f1 = (a: number, b: number, c: number) => (a === 0 ? 0 : (2 * a) / (2 * a + b + c));
  let macro = 0;
  for (const c of per.values()) macro += f1(c.tp, c.fp, c.fn);
  return {
    n,
    top1: n ? top1 / n : 0,
    recall_at_5: n ? r5 / n : 0,
    micro_f1: f1(tp, fp, fn),
    macro_f1: per.size ? macro / per.size : 0,
    micro_precision: tp + fp ? tp / (tp + fp) : 0,
    micro_recall: tp + fn ? tp / (tp + fn) : 0,
  };
}

/**
 * The threshold that maximises micro-F1 on development data, searched over
 * the scores that occur. Use it on data the model was not fitted on, and
 * never on the set you then report.
 */
export function bestThreshold(items: readonly RankedPrediction[]): { threshold: number; micro_f1: number } {
  const candidates = new Set<number>();
  for (const it of items) for (const r of it.ranked) candidates.add(Math.round(r.score * 1000) / 1000);
  let best = { threshold: 1, micro_f1: 0 };
  for (const t of [...candidates].sort((a, b) => a - b)) {
    const f = scoreMapping(items, t).micro_f1;
    if (f > best.micro_f1) best = { threshold: t, micro_f1: f };
  }
  return best;
}

/** Scores of predicted technique sets against labelled sets (one pair per report). */
export interface SetScores {
  n: number;
  micro_precision: number;
  micro_recall: number;
  micro_f1: number;
  /** Mean per-technique F1 over every technique that is a label or a prediction. */
  macro_f1: number;
  /** Mean per-technique F1 over the techniques that are labels (predictions of unlabelled techniques still cost precision there). */
  macro_f1_labels: number;
  /** F1 of each report's set, averaged over reports. */
  per_report_f1: number;
  /** Mean number of techniques predicted per report. */
  predicted_per_report: number;
  labels_per_report: number;
}

/**
 * Score technique sets: micro over every (report, technique) decision,
 * macro per technique, and per report.
 *
 * @example scoreSets([{ gold: ['T1059'], predicted: ['T1059', 'T1105'] }]).micro_precision // 0.5
 */
export function scoreSets(
  items: ReadonlyArray<{ gold: readonly string[]; predicted: readonly string[] }>,
): SetScores {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let perReport = 0;
  let predicted = 0;
  let labels = 0;
  const per = new Map<string, { tp: number; fp: number; fn: number }>();
  const bump = (id: string, k: 'tp' | 'fp' | 'fn') => {
    const c = per.get(id) ?? { tp: 0, fp: 0, fn: 0 };
    per.set(id, c);
    c[k]++;
  };
  const f1 = (a: number, b: number, c: number) => (a === 0 ? 0 : (2 * a) / (2 * a + b + c));
  for (const it of items) {
    const gold = new Set(it.gold);
    const pred = new Set(it.predicted);
    predicted += pred.size;
    labels += gold.size;
    let hit = 0;
    for (const p of pred) {
      if (gold.has(p)) {
        hit++;
        bump(p, 'tp');
      } else bump(p, 'fp');
    }
    for (const g of gold) if (!pred.has(g)) bump(g, 'fn');
    tp += hit;
    fp += pred.size - hit;
    fn += gold.size - hit;
    perReport += gold.size + pred.size === 0 ? 1 : (2 * hit) / (gold.size + pred.size);
  }
  let macro = 0;
  let macroLabels = 0;
  let labelled = 0;
  for (const c of per.values()) {
    const f = f1(c.tp, c.fp, c.fn);
    macro += f;
    if (c.tp + c.fn > 0) {
      macroLabels += f;
      labelled++;
    }
  }
  const n = items.length;
  return {
    n,
    micro_precision: tp + fp ? tp / (tp + fp) : 0,
    micro_recall: tp + fn ? tp / (tp + fn) : 0,
    micro_f1: f1(tp, fp, fn),
    macro_f1: per.size ? macro / per.size : 0,
    macro_f1_labels: labelled ? macroLabels / labelled : 0,
    per_report_f1: n ? perReport / n : 0,
    predicted_per_report: n ? predicted / n : 0,
    labels_per_report: n ? labels / n : 0,
  };
}
