/**
 * Structural checks on an ensemble read from a file: every child index in
 * range and after its parent (so walking a tree always ends), every feature
 * index below the feature count, every leaf offset inside the leaf values.
 * A corrupt or hostile model file is refused at load, never crashes or
 * hangs a prediction.
 */
import { AisocError } from '../../../errors.ts';
import { DEFAULT_LEFT, NODE_STRIDE, type TreeEnsemble } from './ensemble.ts';

function bad(file: string, msg: string): AisocError {
  return new AisocError('AISOC_ERR_MODEL', `${file}: ${msg}`, { file });
}

/**
 * Throw AISOC_ERR_MODEL naming the first inconsistency.
 *
 * @example
 * validateEnsemble(ensemble, 'models/cicflowmeter-rf.aisoc');
 */
export function validateEnsemble(m: TreeEnsemble, file: string): void {
  const nNodes = m.nodes.length / NODE_STRIDE;
  if (!Number.isInteger(nNodes)) throw bad(file, 'the node table is truncated');
  if (m.nFeatures < 1) throw bad(file, 'the model reads no features');
  if (m.nClasses < 2) throw bad(file, 'the model has fewer than two classes');
  if (m.roots.length === 0) throw bad(file, 'the model has no trees');
  const leafWidth = m.transform === 'average' ? m.nClasses : 1;
  const groups = m.transform === 'softmax' ? m.nClasses : 1;
  if (m.transform !== 'average') {
    if (m.treeGroup.length !== m.roots.length) throw bad(file, 'tree groups and trees differ in number');
    if (m.baseScore.length !== groups) throw bad(file, `expected ${groups} base scores`);
  }
  for (let t = 0; t < m.roots.length; t++) {
    const root = m.roots[t]!;
    const end = t + 1 < m.roots.length ? m.roots[t + 1]! : nNodes;
    if (root < 0 || root >= end || end > nNodes) throw bad(file, `tree ${t} has an invalid node range`);
    if (m.transform !== 'average') {
      const g = m.treeGroup[t]!;
      if (g < 0 || g >= groups) throw bad(file, `tree ${t} adds to group ${g}, outside 0…${groups - 1}`);
    }
    for (let n = root; n < end; n++) {
      const o = n * NODE_STRIDE;
      const f = m.nodes[o]!;
      const c = m.nodes[o + 2]!;
      if (f < 0) {
        if (f !== -1) throw bad(file, `node ${n} has an invalid feature word`);
        if (c < 0 || c + leafWidth > m.leafValues.length)
          throw bad(file, `leaf ${n} points outside the leaf values`);
        for (let k = 0; k < leafWidth; k++)
          if (!Number.isFinite(m.leafValues[c + k]!)) throw bad(file, `leaf ${n} holds a non-finite value`);
        continue;
      }
      const feature = f & (DEFAULT_LEFT - 1);
      if ((f & ~(DEFAULT_LEFT | (DEFAULT_LEFT - 1))) !== 0 || feature >= m.nFeatures)
        throw bad(file, `node ${n} splits on feature ${feature}; the model reads ${m.nFeatures}`);
      // Children after their parent and inside the tree: every walk moves forward and ends.
      if (c <= n || c + 1 >= end) throw bad(file, `node ${n} has children outside its tree`);
      if (Number.isNaN(m.thresholds[o + 1]!)) throw bad(file, `node ${n} has a NaN threshold`);
    }
  }
}
