import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { predictRows } from './trees/ensemble.ts';
import { float32Below, fromXgboostJson, loadXgboostFile } from './xgboost.ts';

const FIX = join(import.meta.dirname, 'fixtures');

interface Expected {
  inputs: Array<Array<number | null>>;
  probabilities: number[][];
}

describe('XGBoost JSON models', () => {
  for (const name of ['xgb-multiclass', 'xgb-binary']) {
    it(`${name}: predicts what XGBoost 1.7.4 predicted, missing values included`, () => {
      const model = loadXgboostFile(join(FIX, `${name}.json`));
      const expected = JSON.parse(readFileSync(join(FIX, `${name}.expected.json`), 'utf8')) as Expected;
      const k = model.ensemble.nClasses;
      const rows = expected.inputs.length;
      const x = Float32Array.from(expected.inputs.flat(), (v) => (v === null ? Number.NaN : v));
      const out = new Float64Array(rows * k);
      predictRows(model.ensemble, x, rows, out);
      // XGBoost sums in float32; 1e-5 absolute is its rounding, not a different decision path.
      for (let r = 0; r < rows; r++)
        for (let c = 0; c < k; c++) expect(out[r * k + c]).toBeCloseTo(expected.probabilities[r]![c]!, 5);
    });
  }

  it('turns "x < c" into "x ≤ the float32 below c"', () => {
    expect(float32Below(1)).toBe(Math.fround(1 - 2 ** -24));
    expect(float32Below(-1)).toBe(Math.fround(-1 - 2 ** -23));
    expect(float32Below(0)).toBeLessThan(0);
    expect(float32Below(0)).toBeGreaterThan(-1e-44);
  });

  it('refuses unsupported and broken models, naming the problem', () => {
    const doc = JSON.parse(readFileSync(join(FIX, 'xgb-binary.json'), 'utf8'));
    const regression = structuredClone(doc);
    regression.learner.objective.name = 'reg:squarederror';
    expect(() => fromXgboostJson(regression, 'r.json')).toThrow(
      /objective reg:squarederror is not supported/,
    );
    const cyclic = structuredClone(doc);
    cyclic.learner.gradient_booster.model.trees[0].left_children[1] = 0;
    expect(() => fromXgboostJson(cyclic, 'c.json')).toThrow(/is not a tree/);
    const badFeature = structuredClone(doc);
    badFeature.learner.gradient_booster.model.trees[0].split_indices[0] = 99;
    expect(() => fromXgboostJson(badFeature, 'f.json')).toThrow(/splits on feature 99/);
    expect(() => fromXgboostJson({ learner: {} }, 'e.json')).toThrow(/AISOC|objective/);
    expect(() => fromXgboostJson(doc, 'l.json', { labels: ['a', 'b', 'c'] })).toThrow(
      /3 labels were given for 2/,
    );
  });
});
