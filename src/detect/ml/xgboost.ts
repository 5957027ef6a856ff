/**
 * Load XGBoost's JSON model format (`Booster.save_model('m.json')`, format
 * of XGBoost ≥ 1.0) into our ensemble, so models trained elsewhere can be
 * served. Supported: `gbtree` boosters with numerical splits and the
 * objectives binary:logistic, binary:logitraw, multi:softprob and
 * multi:softmax (served as probabilities). Anything else is refused with a
 * message naming it, never half-loaded.
 *
 * XGBoost compares float32 features with `x < split_condition` and sends
 * missing values (NaN) to `default_left`; our trees compare `x ≤ threshold`,
 * so each threshold becomes the float32 just below `split_condition` — the
 * same decision for every float32 input.
 */
import { readFileSync } from 'node:fs';
import { AisocError, describeError } from '../../errors.ts';
import type { Model } from './model.ts';
import { TreeBuilder } from './trees/builder.ts';
import { DEFAULT_LEFT, type FlatTree, joinTrees } from './trees/ensemble.ts';
import { validateEnsemble } from './trees/validate.ts';

const f32 = new Float32Array(1);
const i32 = new Int32Array(f32.buffer);

/** The largest float32 strictly below `v` (v a float32 value). */
export function float32Below(v: number): number {
  f32[0] = v;
  const x = f32[0]!;
  if (Number.isNaN(x)) return x;
  if (x === Number.NEGATIVE_INFINITY) return x;
  if (x === 0) {
    i32[0] = 0x80000001; // the negative float32 closest to zero
    return f32[0]!;
  }
  i32[0] = x > 0 ? i32[0]! - 1 : i32[0]! + 1;
  return f32[0]!;
}

function fail(file: string, msg: string): AisocError {
  return new AisocError('AISOC_ERR_MODEL', `${file}: ${msg}`, { file });
}

type Json = Record<string, unknown>;

function obj(v: unknown, file: string, path: string): Json {
  if (!v || typeof v !== 'object' || Array.isArray(v))
    throw fail(file, `${path} is missing or not an object`);
  return v as Json;
}

function numArray(v: unknown, file: string, path: string, len: number): number[] {
  if (!Array.isArray(v) || v.length !== len) throw fail(file, `${path} must be an array of ${len} numbers`);
  for (const x of v) if (typeof x !== 'number') throw fail(file, `${path} holds a non-number`);
  return v as number[];
}

function intParam(v: unknown, file: string, path: string): number {
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0)
    throw fail(file, `${path} must be a non-negative integer`);
  return n;
}

const OBJECTIVES = new Set(['binary:logistic', 'binary:logitraw', 'multi:softprob', 'multi:softmax']);

export interface XgboostOptions {
  /** Class names in class-index order (XGBoost stores none); default "0", "1", …. */
  labels?: string[];
  /** The feature set the model was trained on, if known. */
  featureSet?: { name: string; version: number; columns: string[] };
  negativeLabel?: string;
}

/**
 * Convert a parsed XGBoost JSON model.
 *
 * @example
 * const model = fromXgboostJson(JSON.parse(text), 'model.json', { labels: ['benign', 'attack'] });
 */
export function fromXgboostJson(doc: unknown, file: string, options: XgboostOptions = {}): Model {
  const root = obj(doc, file, 'the document');
  const learner = obj(root.learner, file, 'learner');
  const objective = obj(learner.objective, file, 'learner.objective');
  const objName = String(objective.name);
  if (!OBJECTIVES.has(objName))
    throw fail(file, `objective ${objName} is not supported (only ${[...OBJECTIVES].join(', ')})`);
  const booster = obj(learner.gradient_booster, file, 'learner.gradient_booster');
  if (booster.name !== 'gbtree')
    throw fail(file, `booster ${String(booster.name)} is not supported (only gbtree)`);
  const mp = obj(learner.learner_model_param, file, 'learner.learner_model_param');
  const nFeatures = intParam(mp.num_feature, file, 'learner_model_param.num_feature');
  const numClass = intParam(mp.num_class ?? '0', file, 'learner_model_param.num_class');
  const baseScore = Number(mp.base_score);
  if (!Number.isFinite(baseScore)) throw fail(file, 'learner_model_param.base_score is not a number');
  const multi = objName.startsWith('multi:');
  const nClasses = multi ? numClass : 2;
  if (nClasses < 2) throw fail(file, `a ${objName} model needs num_class ≥ 2`);
  const groups = multi ? nClasses : 1;
  const model = obj(booster.model, file, 'gradient_booster.model');
  const trees = model.trees;
  const treeInfo = model.tree_info;
  if (!Array.isArray(trees) || trees.length === 0) throw fail(file, 'the model has no trees');
  if (!Array.isArray(treeInfo) || treeInfo.length !== trees.length)
    throw fail(file, 'tree_info must give the class of every tree');

  const flat: FlatTree[] = trees.map((t, k) => convertTree(obj(t, file, `trees[${k}]`), file, k, nFeatures));
  const treeGroup = treeInfo.map((g, k) => {
    if (typeof g !== 'number' || !Number.isInteger(g) || g < 0 || g >= groups)
      throw fail(file, `tree_info[${k}] = ${String(g)} is not a class index below ${groups}`);
    return g;
  });
  // Binary objectives store base_score as a probability and start from its logit;
  // multi-class ones add base_score to every class, which softmax ignores.
  const base = multi
    ? new Array<number>(groups).fill(baseScore)
    : [baseScore > 0 && baseScore < 1 ? Math.log(baseScore / (1 - baseScore)) : 0];
  const ensemble = joinTrees(flat, {
    transform: multi ? 'softmax' : 'sigmoid',
    nFeatures,
    nClasses,
    treeGroup,
    baseScore: base,
  });
  validateEnsemble(ensemble, file);
  const labels = options.labels ?? Array.from({ length: nClasses }, (_, i) => String(i));
  if (labels.length !== nClasses)
    throw fail(file, `${labels.length} labels were given for ${nClasses} classes`);
  if (options.featureSet && options.featureSet.columns.length !== nFeatures)
    throw fail(
      file,
      `feature set ${options.featureSet.name} has ${options.featureSet.columns.length} columns; the model reads ${nFeatures}`,
    );
  const version = Array.isArray(root.version) ? root.version.join('.') : 'unknown';
  return {
    meta: {
      algorithm: 'xgboost',
      feature_set: options.featureSet ?? null,
      labels,
      negative_label: options.negativeLabel ?? null,
      training: { imported_from: 'xgboost', xgboost_version: version, objective: objName },
      hyperparameters: {},
      metrics: {},
    },
    ensemble,
  };
}

function convertTree(t: Json, file: string, k: number, nFeatures: number): FlatTree {
  const tp = obj(t.tree_param, file, `trees[${k}].tree_param`);
  const n = intParam(tp.num_nodes, file, `trees[${k}].tree_param.num_nodes`);
  if (n < 1) throw fail(file, `tree ${k} has no nodes`);
  if (intParam(tp.size_leaf_vector ?? '0', file, `trees[${k}].size_leaf_vector`) > 1)
    throw fail(file, `tree ${k} has vector leaves (multi-output trees are not supported)`);
  const left = numArray(t.left_children, file, `trees[${k}].left_children`, n);
  const right = numArray(t.right_children, file, `trees[${k}].right_children`, n);
  const cond = numArray(t.split_conditions, file, `trees[${k}].split_conditions`, n);
  const index = numArray(t.split_indices, file, `trees[${k}].split_indices`, n);
  const dflt = numArray(t.default_left, file, `trees[${k}].default_left`, n);
  if (Array.isArray(t.split_type) && t.split_type.some((s) => s !== 0))
    throw fail(file, `tree ${k} has categorical splits, which are not supported`);

  const b = new TreeBuilder(n);
  const visited = new Uint8Array(n);
  // Re-lay the nodes so each split's children sit side by side (our layout), checking the
  // structure as we go: each node reached once, indices in range.
  const stack: Array<[number, number]> = [[0, b.alloc(1)]];
  while (stack.length) {
    const [src, dst] = stack.pop()!;
    if (src < 0 || src >= n || visited[src]) throw fail(file, `tree ${k} is not a tree (node ${src})`);
    visited[src] = 1;
    if (left[src] === -1) {
      if (!Number.isFinite(cond[src]!)) throw fail(file, `tree ${k} leaf ${src} is not finite`);
      b.setLeaf(dst, [cond[src]!]);
      continue;
    }
    const f = index[src]!;
    if (!Number.isInteger(f) || f < 0 || f >= nFeatures)
      throw fail(file, `tree ${k} node ${src} splits on feature ${f}; the model has ${nFeatures}`);
    const child = b.setSplit(dst, dflt[src] ? f | DEFAULT_LEFT : f, float32Below(cond[src]!), 0);
    stack.push([right[src]!, child + 1], [left[src]!, child]);
  }
  return b.finish();
}

/**
 * Read an XGBoost JSON model file.
 *
 * @example
 * const model = loadXgboostFile('models/xgb.json', { labels: ['benign', 'attack'] });
 */
export function loadXgboostFile(path: string, options: XgboostOptions = {}): Model {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new AisocError('AISOC_ERR_MODEL', `Cannot read the XGBoost model ${path}: ${describeError(err)}`, {
      file: path,
    });
  }
  return fromXgboostJson(doc, path, options);
}
