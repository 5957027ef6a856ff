import { describe, expect, it } from 'vitest';
import { subset } from '../dataset.ts';
import { evaluate } from '../metrics.ts';
import { type Model, predictClasses } from '../model.ts';
import { encodeModel } from '../model-file.ts';
import { groupedSplit } from '../split.ts';
import { majorityBaselineF1, structured } from '../testing/synthetic.ts';
import type { TreeEnsemble } from './ensemble.ts';
import { CART_DEFAULTS, FOREST_DEFAULTS, trainForest } from './forest.ts';
import { GBDT_DEFAULTS, trainGbdt } from './gbdt.ts';

const data = structured(3000, 6, 0.03, 11);
const split = groupedSplit(data.groups!, 0.25, 3);
const train = subset(data, split.train);
const test = subset(data, split.test);
const baseline = majorityBaselineF1(train, test);

function wrap(ensemble: TreeEnsemble): Model {
  return {
    meta: {
      algorithm: 'rf',
      feature_set: null,
      labels: [...data.labels],
      negative_label: null,
      training: {},
      hyperparameters: {},
      metrics: {},
    },
    ensemble,
  };
}

function f1(ensemble: TreeEnsemble): number {
  return evaluate(test.y, predictClasses(wrap(ensemble), test.x, test.rows), test.labels).macro_f1;
}

describe('tree learners on data with a known structure', () => {
  it('the baseline is weak, so beating it means something', () => {
    expect(baseline).toBeLessThan(0.25);
  });

  it('CART recovers the two decisive splits', async () => {
    const m = await trainForest(train, { ...CART_DEFAULTS, maxDepth: 3 }, { threads: 0 });
    // 3 % of labels are random, so ~98 % is the ceiling; depth 3 is enough for the true rule.
    expect(f1(m)).toBeGreaterThan(0.93);
    const nodes = m.nodes;
    // The root splits on x0 near 0.3 or on x1 near 0.6: the features that decide the class.
    expect([0, 1]).toContain(nodes[0]);
  });

  it('a random forest beats the majority baseline by far, with balanced class weights too', async () => {
    const m = await trainForest(train, { ...FOREST_DEFAULTS, nTrees: 30, seed: 5 }, { threads: 0 });
    expect(f1(m)).toBeGreaterThan(0.9);
    const w = await trainForest(
      train,
      { ...FOREST_DEFAULTS, nTrees: 30, classWeight: 'balanced' },
      { threads: 0 },
    );
    expect(f1(w)).toBeGreaterThan(0.9);
  });

  it('gradient boosting beats the baseline, depth-wise and leaf-wise, and stops early on a validation set', async () => {
    const vs = groupedSplit(train.groups!, 0.2, 9);
    const fit = subset(train, vs.train);
    const valid = subset(train, vs.test);
    const d = await trainGbdt(fit, { ...GBDT_DEFAULTS, nRounds: 200, maxDepth: 3 }, { threads: 0, valid });
    expect(f1(d.model)).toBeGreaterThan(0.9);
    expect(d.rounds).toBeLessThan(200);
    expect(d.validLoss.length).toBeGreaterThan(d.rounds);
    const l = await trainGbdt(
      fit,
      {
        ...GBDT_DEFAULTS,
        nRounds: 40,
        maxDepth: 0,
        maxLeaves: 8,
        growPolicy: 'lossguide',
        gossTop: 0.2,
        gossOther: 0.1,
      },
      { threads: 0 },
    );
    expect(f1(l.model)).toBeGreaterThan(0.9);
    const w = await trainGbdt(
      fit,
      { ...GBDT_DEFAULTS, nRounds: 30, classWeight: 'balanced' },
      { threads: 0 },
    );
    expect(f1(w.model)).toBeGreaterThan(0.9);
  });

  it('binary boosting uses one tree per round and a logistic output', async () => {
    const bin = subset(
      data,
      Array.from({ length: data.rows }, (_, i) => i).filter((i) => data.y[i] !== 2),
    );
    const two = { ...bin, labels: bin.labels.slice(0, 2) };
    const r = await trainGbdt(two, { ...GBDT_DEFAULTS, nRounds: 10, earlyStoppingRounds: 0 }, { threads: 0 });
    expect(r.model.transform).toBe('sigmoid');
    expect(r.model.roots.length).toBe(10);
  });
});

describe('determinism', () => {
  const bytes = (e: TreeEnsemble) => encodeModel(wrap(e)).toString('hex');

  it('the same seed gives the same forest file, inline or on two worker threads; another seed does not', async () => {
    const p = { ...FOREST_DEFAULTS, nTrees: 8, seed: 42 };
    const a = await trainForest(train, p, { threads: 0 });
    const b = await trainForest(train, p, { threads: 2, forceThreads: true });
    const c = await trainForest(train, { ...p, seed: 43 }, { threads: 0 });
    expect(bytes(b)).toBe(bytes(a));
    expect(bytes(c)).not.toBe(bytes(a));
  });

  it('the same seed gives the same boosted file inline or on worker threads, GOSS and sub-sampling included', async () => {
    const p = {
      ...GBDT_DEFAULTS,
      nRounds: 6,
      colsample: 0.7,
      gossTop: 0.2,
      gossOther: 0.1,
      learningRate: 0.5,
      seed: 3,
    };
    const a = await trainGbdt(train, p, { threads: 0 });
    const b = await trainGbdt(train, p, { threads: 2, forceThreads: true });
    expect(bytes(b.model)).toBe(bytes(a.model));
  });
});
