/**
 * A growable node list in the layout of {@link FlatTree}, shared by the tree
 * builders: split nodes get their two children allocated side by side.
 */
import { type FlatTree, NODE_STRIDE } from './ensemble.ts';

export class TreeBuilder {
  private nodes: Int32Array;
  private count = 0;
  private leaves: number[] = [];
  /** Per node, the bin index of its split (training-time traversal over binned data). */
  binSplit: Int32Array;

  constructor(capacity = 64) {
    this.nodes = new Int32Array(capacity * NODE_STRIDE);
    this.binSplit = new Int32Array(capacity);
  }

  /** Allocate `n` consecutive nodes; returns the first index. */
  alloc(n: number): number {
    const first = this.count;
    this.count += n;
    if (this.count * NODE_STRIDE > this.nodes.length) {
      const grown = new Int32Array(Math.max(this.nodes.length * 2, this.count * NODE_STRIDE));
      grown.set(this.nodes);
      this.nodes = grown;
      const bins = new Int32Array(grown.length / NODE_STRIDE);
      bins.set(this.binSplit);
      this.binSplit = bins;
    }
    return first;
  }

  setSplit(node: number, feature: number, threshold: number, binThreshold: number): number {
    const left = this.alloc(2);
    const o = node * NODE_STRIDE;
    this.nodes[o] = feature;
    this.nodes[o + 1] = floatBits(threshold);
    this.nodes[o + 2] = left;
    this.binSplit[node] = binThreshold;
    return left;
  }

  setLeaf(node: number, values: ArrayLike<number>): void {
    const o = node * NODE_STRIDE;
    this.nodes[o] = -1;
    this.nodes[o + 1] = 0;
    this.nodes[o + 2] = this.leaves.length;
    for (let i = 0; i < values.length; i++) this.leaves.push(values[i]!);
  }

  get size(): number {
    return this.count;
  }

  /** Raw access for training-time traversal. */
  get raw(): Int32Array {
    return this.nodes;
  }

  /** The leaf values written so far. */
  leafValue(offset: number): number {
    return this.leaves[offset]!;
  }

  finish(): FlatTree {
    return {
      nodes: this.nodes.slice(0, this.count * NODE_STRIDE),
      leafValues: Float32Array.from(this.leaves),
    };
  }
}

const convBuf = new ArrayBuffer(4);
const convF = new Float32Array(convBuf);
const convI = new Int32Array(convBuf);

/** The bits of a float32 in platform byte order, to store a threshold in an Int32Array word. */
export function floatBits(v: number): number {
  convF[0] = v;
  return convI[0]!;
}
