/**
 * A small seeded PRNG (xoshiro128**, seeded through splitmix32) so that every
 * random choice in training — bootstrap draws, feature sub-sampling, row
 * sub-sampling — is reproducible from one integer seed, in any thread.
 * `Math.random` is never used by training code.
 */

/** splitmix32: spreads a 32-bit state; used to seed xoshiro and to derive sub-seeds. */
function splitmix32(state: number): [number, number] {
  const s = (state + 0x9e3779b9) | 0;
  let z = s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [s, (z ^ (z >>> 16)) >>> 0];
}

/**
 * Derive an independent seed from a seed and a path of integers (tree index,
 * round, class), so that the trees built by any worker in any order are the
 * same as when built one after another.
 *
 * @example
 * const treeSeed = deriveSeed(42, treeIndex);
 */
export function deriveSeed(seed: number, ...path: number[]): number {
  let [s, out] = splitmix32(seed >>> 0);
  for (const p of path) {
    [s, out] = splitmix32((s ^ Math.imul(p + 1, 0x27d4eb2d) ^ out) | 0);
  }
  return out >>> 0;
}

/**
 * xoshiro128**: fast, 128-bit state, good statistical quality for sampling.
 *
 * @example
 * const rng = new Rng(7);
 * const i = rng.int(10); // 0 … 9
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    let v: number;
    [s, v] = splitmix32(s);
    this.a = v | 0;
    [s, v] = splitmix32(s);
    this.b = v | 0;
    [s, v] = splitmix32(s);
    this.c = v | 0;
    [, v] = splitmix32(s);
    this.d = v | 0;
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9);
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result >>> 0;
  }

  /** A uniform float in [0, 1) with 32 bits of randomness. */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** A uniform integer in [0, n) (n ≤ 2^32), without modulo bias worth measuring for n ≪ 2^32. */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
