/** Open a model file of either format: ours, or XGBoost's JSON (recognised by its content). */
import { closeSync, openSync, readSync } from 'node:fs';
import { AisocError, describeError } from '../../errors.ts';
import { featureSet } from './features/index.ts';
import type { Model } from './model.ts';
import { loadModelFile } from './model-file.ts';
import { loadXgboostFile } from './xgboost.ts';

export interface OpenModelOptions {
  /** `auto` looks at the first byte: `{` is XGBoost JSON. */
  format?: 'auto' | 'aisoc' | 'xgboost';
  /** For XGBoost models: class names in index order. */
  labels?: string[];
  /** For XGBoost models: the feature set the model was trained on. */
  featureSet?: string;
  negativeLabel?: string;
}

function firstByte(path: string): number {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const b = Buffer.alloc(64);
    const n = readSync(fd, b, 0, 64, 0);
    const s = b.toString('utf8', 0, n).trimStart();
    return s.charCodeAt(0);
  } catch (err) {
    throw new AisocError('AISOC_ERR_MODEL', `Cannot read the model file ${path}: ${describeError(err)}`, {
      file: path,
    });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Open a model, checking that a bound feature set matches the model's.
 *
 * @example
 * const model = openModel('models/cloudtrail18-rf.aisoc-model');
 * const imported = openModel('xgb.json', { featureSet: 'cicflowmeter', labels: [...] });
 */
export function openModel(path: string, options: OpenModelOptions = {}): Model {
  const format = options.format ?? 'auto';
  const isJson = format === 'xgboost' || (format === 'auto' && firstByte(path) === 0x7b);
  if (isJson) {
    const fs = options.featureSet ? featureSet(options.featureSet) : undefined;
    return loadXgboostFile(path, {
      labels: options.labels,
      featureSet: fs ? { name: fs.name, version: fs.version, columns: [...fs.columns] } : undefined,
      negativeLabel: options.negativeLabel,
    });
  }
  const model = loadModelFile(path);
  const own = model.meta.feature_set;
  if (options.featureSet && own && own.name !== options.featureSet)
    throw new AisocError(
      'AISOC_ERR_MODEL',
      `${path} was trained on feature set ${own.name}, not ${options.featureSet}.`,
      { file: path },
    );
  if (own) {
    // A model of a feature set this build computes differently would be served wrong vectors.
    let current: ReturnType<typeof featureSet> | undefined;
    try {
      current = featureSet(own.name);
    } catch {
      current = undefined;
    }
    if (current && current.version !== own.version)
      throw new AisocError(
        'AISOC_ERR_MODEL',
        `${path} was trained on ${own.name} v${own.version}; this build computes v${current.version}. Retrain it (npm run models).`,
        { file: path },
      );
  }
  return model;
}
