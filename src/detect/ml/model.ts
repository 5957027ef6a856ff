/**
 * A model as the product serves it: a tree ensemble plus what it needs to be
 * used honestly — the feature set it was trained on (name, version, columns),
 * its class labels, and where it came from (data fingerprint,
 * hyper-parameters, evaluation metrics).
 */
import { AisocError } from '../../errors.ts';
import { argmax, predictRows, type TreeEnsemble } from './trees/ensemble.ts';

export type Algorithm = 'rf' | 'gbdt' | 'cart' | 'xgboost';

export interface ModelMeta {
  algorithm: Algorithm;
  /** The feature set the model reads; `null` for an imported model nobody bound to one. */
  feature_set: { name: string; version: number; columns: string[] } | null;
  labels: string[];
  /** The benign class; detections are raised for every other class. */
  negative_label: string | null;
  training: Record<string, unknown>;
  hyperparameters: Record<string, unknown>;
  metrics: Record<string, unknown>;
}

export interface Model {
  meta: ModelMeta;
  ensemble: TreeEnsemble;
}

export interface Prediction {
  /** Label of the most probable class. */
  prediction: string;
  /** Its probability. */
  confidence: number;
  probabilities: Record<string, number>;
}

/**
 * Check a feature vector against a model and convert it to float32 (the
 * precision the trees compare in). Wrong length, non-numbers, NaN and
 * infinities are refused with the index and, when known, the column name.
 *
 * @example
 * const x = checkFeatures(model, [0, 1, 2]);
 */
export function checkFeatures(model: Model, features: readonly unknown[], where = 'features'): Float32Array {
  const n = model.ensemble.nFeatures;
  if (features.length !== n) {
    const fs = model.meta.feature_set;
    throw new AisocError(
      'AISOC_ERR_FEATURES',
      `${where} has ${features.length} values; the model reads ${n}${fs ? ` (feature set ${fs.name} v${fs.version})` : ''}. Padding or truncating would give meaningless scores.`,
      { field: where, details: { expected: n, received: features.length } },
    );
  }
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = features[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      const name = model.meta.feature_set?.columns[i];
      throw new AisocError(
        'AISOC_ERR_FEATURES',
        `${where}[${i}]${name ? ` (${name})` : ''} is ${typeof v === 'number' ? String(v) : (JSON.stringify(v) ?? 'undefined')}; every feature must be a finite number.`,
        { field: `${where}[${i}]` },
      );
    }
    x[i] = v;
  }
  return x;
}

/** Turn probabilities of one row into a prediction. */
export function toPrediction(labels: readonly string[], p: Float64Array, offset = 0): Prediction {
  const k = labels.length;
  const best = argmax(p, offset, k);
  const probabilities: Record<string, number> = {};
  for (let c = 0; c < k; c++) probabilities[labels[c]!] = p[offset + c]!;
  return { prediction: labels[best]!, confidence: p[offset + best]!, probabilities };
}

/**
 * Predict one vector.
 *
 * @example
 * predict(model, [0, 1, 1, 12, 0, …]); // { prediction: 'benign', confidence: 0.97, probabilities: {…} }
 */
export function predict(model: Model, features: readonly unknown[]): Prediction {
  const x = checkFeatures(model, features);
  const p = new Float64Array(model.ensemble.nClasses);
  predictRows(model.ensemble, x, 1, p);
  return toPrediction(model.meta.labels, p);
}

/** Predict many vectors at once (faster than one by one: trees stay in cache across rows). */
export function predictMany(model: Model, rows: readonly (readonly unknown[])[]): Prediction[] {
  const n = model.ensemble.nFeatures;
  const x = new Float32Array(rows.length * n);
  rows.forEach((r, i) => {
    x.set(checkFeatures(model, r, `features[${i}]`), i * n);
  });
  const k = model.ensemble.nClasses;
  const p = new Float64Array(rows.length * k);
  predictRows(model.ensemble, x, rows.length, p);
  return rows.map((_, i) => toPrediction(model.meta.labels, p, i * k));
}

/** Class index predictions for a row-major float32 matrix (evaluation). */
export function predictClasses(model: Model, x: Float32Array, rows: number): Int32Array {
  const k = model.ensemble.nClasses;
  const p = new Float64Array(rows * k);
  predictRows(model.ensemble, x, rows, p);
  const out = new Int32Array(rows);
  for (let i = 0; i < rows; i++) out[i] = argmax(p, i * k, k);
  return out;
}
