/**
 * Classification metrics, reported macro-F1 first: on imbalanced security
 * data, accuracy is dominated by the big classes and hides a model that
 * never finds the rare attacks.
 */

export interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface EvalReport {
  macro_f1: number;
  accuracy: number;
  per_class: Record<string, ClassMetrics>;
  /** confusion[i][j]: rows of true class labels[i] predicted as labels[j]. */
  confusion: number[][];
  /** Labels in the order of the confusion matrix. */
  labels: string[];
  /** Share of negative (benign) rows predicted as any other class; null without a negative class. */
  false_positive_rate: number | null;
  rows: number;
}

/**
 * Metrics from true and predicted class indices. Macro-F1 averages over
 * classes present in the truth or the predictions (as scikit-learn does).
 *
 * @example
 * const r = evaluate([0, 1, 1], [0, 1, 0], ['BENIGN', 'DoS'], 'BENIGN');
 * r.macro_f1; // 0.667
 */
export function evaluate(
  truth: ArrayLike<number>,
  predicted: ArrayLike<number>,
  labels: readonly string[],
  negativeLabel?: string,
): EvalReport {
  const k = labels.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let correct = 0;
  for (let i = 0; i < truth.length; i++) {
    confusion[truth[i]!]![predicted[i]!]!++;
    if (truth[i] === predicted[i]) correct++;
  }
  const perClass: Record<string, ClassMetrics> = {};
  let f1Sum = 0;
  let present = 0;
  for (let c = 0; c < k; c++) {
    const tp = confusion[c]![c]!;
    let support = 0;
    let predictedAs = 0;
    for (let j = 0; j < k; j++) {
      support += confusion[c]![j]!;
      predictedAs += confusion[j]![c]!;
    }
    const precision = predictedAs ? tp / predictedAs : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    perClass[labels[c]!] = { precision, recall, f1, support };
    if (support > 0 || predictedAs > 0) {
      f1Sum += f1;
      present++;
    }
  }
  let fpr: number | null = null;
  const neg = negativeLabel === undefined ? -1 : labels.indexOf(negativeLabel);
  if (neg >= 0) {
    const negRows = confusion[neg]!.reduce((a, b) => a + b, 0);
    fpr = negRows ? (negRows - confusion[neg]![neg]!) / negRows : 0;
  }
  return {
    macro_f1: present ? f1Sum / present : 0,
    accuracy: truth.length ? correct / truth.length : 0,
    per_class: perClass,
    confusion,
    labels: [...labels],
    false_positive_rate: fpr,
    rows: truth.length,
  };
}

/** A short table of a report, macro-F1 first, for terminals. */
export function formatReport(r: EvalReport): string {
  const lines = [
    `macro-F1 ${r.macro_f1.toFixed(4)}   accuracy ${r.accuracy.toFixed(4)}   false-positive rate ${
      r.false_positive_rate === null ? 'n/a' : r.false_positive_rate.toFixed(4)
    }   rows ${r.rows}`,
    '',
    `${'class'.padEnd(32)} ${'precision'.padStart(9)} ${'recall'.padStart(9)} ${'f1'.padStart(9)} ${'support'.padStart(8)}`,
  ];
  for (const [label, m] of Object.entries(r.per_class)) {
    lines.push(
      `${label.slice(0, 32).padEnd(32)} ${m.precision.toFixed(4).padStart(9)} ${m.recall
        .toFixed(4)
        .padStart(9)} ${m.f1.toFixed(4).padStart(9)} ${String(m.support).padStart(8)}`,
    );
  }
  return lines.join('\n');
}
