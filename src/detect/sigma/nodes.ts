/**
 * The compiled form of a detection: a node is an event test with a rough
 * cost and, when known, the atoms the prefilter may index it by. AND, OR and
 * `n of` combine nodes cheapest first; a parsed condition compiles to one.
 */
import type { ConditionNode } from './condition.ts';
import type { EventView, FieldRegistry } from './fields.ts';
import { type Atom, bestAtoms, unionAtoms } from './prefilter.ts';
import type { RegexEngine } from './regex.ts';

/** A compiled test of one event (seen through a view). */
export type Match = (v: EventView) => boolean;

/** A compiled node with a rough cost, so cheap tests run first in `and`/`or`. */
export interface Node {
  match: Match;
  cost: number;
  /**
   * A necessary condition for a match, when one is known: the node can only
   * be true if one of these atoms holds. Used to index rules by field value.
   */
  atoms?: Atom[];
}

/** Where in a rule a value sits (`['detection', 'sel', 'Image|endswith']`), for errors. */
export type Path = ReadonlyArray<string | number>;

/** What the compiler needs from its surroundings. */
export interface CompileContext {
  fields: FieldRegistry;
  regexEngine: RegexEngine;
  /** Values of `%name%` placeholders for the `expand` modifier. */
  placeholders: Readonly<Record<string, readonly string[]>>;
  /** What an unknown placeholder does: expand to no value (the test never matches), or reject the rule. */
  unknownPlaceholder: 'empty' | 'reject';
  /** Non-fatal findings (an unused search identifier, an unknown placeholder). */
  warn(message: string, path: Path): void;
}

/** What compiling one detection collects: the fields it reads and the regex engines it uses. */
export interface CompileState {
  fields: Set<string>;
  engines: Set<'re2' | 'native'>;
}

/** Rough relative costs of the tests, so AND and OR run the cheap ones first. */
export const COST = { exact: 1, prefix: 2, suffix: 2, contains: 4, glob: 6, regex: 25, keyword: 40 } as const;

/** Compile a parsed condition over the compiled search identifiers (`selection` looks one up by name). */
export function compileCondition(node: ConditionNode, selection: (name: string) => Node): Node {
  switch (node.t) {
    case 'id':
      return selection(node.name);
    case 'and':
      return andNode(node.items.map((i) => compileCondition(i, selection)));
    case 'or':
      return orNode(node.items.map((i) => compileCondition(i, selection)));
    case 'not': {
      const inner = compileCondition(node.item, selection);
      const m = inner.match;
      return { match: (v) => !m(v), cost: inner.cost };
    }
    case 'of': {
      const items = node.names.map(selection);
      if (node.min === 'all') return andNode(items);
      if (node.min === 1) return orNode(items);
      const min = node.min;
      const sorted = [...items].sort((a, b) => a.cost - b.cost).map((n) => n.match);
      return {
        match: (v) => {
          let hits = 0;
          for (let i = 0; i < sorted.length; i++) {
            if (sorted[i]!(v) && ++hits >= min) return true;
            if (hits + (sorted.length - i - 1) < min) return false;
          }
          return false;
        },
        cost: items.reduce((s, n) => s + n.cost, 0),
        ...(unionAtoms(items) ? { atoms: unionAtoms(items)! } : {}),
      };
    }
  }
}

/** AND of nodes: cheapest first; indexed by the rarest child's atoms. */
export function andNode(items: Node[]): Node {
  if (items.length === 1) return items[0]!;
  const node = andMatch(items);
  const atoms = bestAtoms(items);
  return atoms ? { ...node, atoms } : node;
}

function andMatch(items: Node[]): Node {
  const sorted = [...items].sort((a, b) => a.cost - b.cost);
  const ms = sorted.map((n) => n.match);
  const cost = sorted.reduce((s, n) => s + n.cost, 0);
  if (ms.length === 2) {
    const [a, b] = ms as [Match, Match];
    return { match: (v) => a(v) && b(v), cost };
  }
  if (ms.length === 3) {
    const [a, b, c] = ms as [Match, Match, Match];
    return { match: (v) => a(v) && b(v) && c(v), cost };
  }
  return {
    match: (v) => {
      for (let i = 0; i < ms.length; i++) if (!ms[i]!(v)) return false;
      return true;
    },
    cost,
  };
}

/** OR of nodes: cheapest first; indexed by the union of the children's atoms, when each has some. */
export function orNode(items: Node[]): Node {
  if (items.length === 1) return items[0]!;
  const node = orMatch(items);
  const atoms = unionAtoms(items);
  return atoms ? { ...node, atoms } : node;
}

function orMatch(items: Node[]): Node {
  const sorted = [...items].sort((a, b) => a.cost - b.cost);
  const ms = sorted.map((n) => n.match);
  const cost = sorted.reduce((s, n) => s + n.cost, 0);
  if (ms.length === 2) {
    const [a, b] = ms as [Match, Match];
    return { match: (v) => a(v) || b(v), cost };
  }
  return {
    match: (v) => {
      for (let i = 0; i < ms.length; i++) if (ms[i]!(v)) return true;
      return false;
    },
    cost,
  };
}
