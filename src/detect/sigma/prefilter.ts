/**
 * What the rule index may know about a detection before running it: atoms
 * (field values one of which must hold for a match) and the EventIDs the
 * condition requires.
 */
import type { ConditionNode } from './condition.ts';
import { shapeOf } from './glob.ts';
import type { Part } from './sigma-string.ts';
import { isPlainObject } from './yaml-doc.ts';

/**
 * An indexable fact about an event: a field (lowercased) equals a value, or
 * its last path component (after `\` or `/`) equals a file name.
 */
export interface Atom {
  slot: number;
  kind: 'exact' | 'basename' | 'prefix' | 'suffix' | 'substring';
  value: string;
}

/**
 * A rough chance that one atom holds for an event's value: the prefilter
 * evaluates a rule whenever one of its atoms holds, so an AND should offer
 * its rarest child (`Image|endswith: \\x.exe` rather than `CommandLine|contains: /s`).
 */
function atomOdds(a: Atom): number {
  if (a.kind === 'exact' || a.kind === 'basename') return 0.01;
  const n = a.value.length;
  const base = a.kind === 'substring' ? 1 : 0.3;
  return base * (n <= 2 ? 0.3 : n === 3 ? 0.1 : n === 4 ? 0.04 : n < 8 ? 0.02 : 0.01);
}

function atomsOdds(atoms: Atom[]): number {
  let p = 0;
  for (const a of atoms) p += atomOdds(a);
  return p;
}

/** The atoms of the child least likely to hold (any one child's condition is necessary for AND). */
export function bestAtoms(items: ReadonlyArray<{ atoms?: Atom[] }>): Atom[] | undefined {
  let best: Atom[] | undefined;
  let bestOdds = Number.POSITIVE_INFINITY;
  for (const n of items) {
    if (!n.atoms) continue;
    const odds = atomsOdds(n.atoms);
    if (odds < bestOdds) {
      best = n.atoms;
      bestOdds = odds;
    }
  }
  return best;
}

/** The union of the children's atoms, when every child has some (OR). */
export function unionAtoms(items: ReadonlyArray<{ atoms?: Atom[] }>): Atom[] | undefined {
  const out: Atom[] = [];
  for (const n of items) {
    if (!n.atoms) return undefined;
    out.push(...n.atoms);
  }
  return out;
}

const BASENAME_SUFFIX = /^[\\/][^\\/]+$/;

/** Atoms of a field matching any of `patterns`, or undefined when one pattern is not indexable. */
export function patternAtoms(slot: number, patterns: Part[][]): Atom[] | undefined {
  const out: Atom[] = [];
  for (const p of patterns) {
    const shape = shapeOf(p);
    if (shape.kind === 'glob') {
      const atom = globAtom(slot, p);
      if (!atom) return undefined;
      out.push(atom);
      continue;
    }
    const text = shape.kind === 'any' ? '' : shape.text.toLowerCase();
    if (shape.kind === 'exact') out.push({ slot, kind: 'exact', value: text });
    else if (shape.kind === 'suffix' && BASENAME_SUFFIX.test(text)) {
      out.push({ slot, kind: 'basename', value: text.slice(1) });
    } else if (text.length < 2) return undefined;
    else if (shape.kind === 'suffix') out.push({ slot, kind: 'suffix', value: text });
    else if (shape.kind === 'prefix') out.push({ slot, kind: 'prefix', value: text });
    else if (shape.kind === 'contains') out.push({ slot, kind: 'substring', value: text });
    else return undefined;
  }
  return out;
}

/**
 * An atom of a pattern with inner wildcards or `windash` classes
 * (`* -enc *` under windash is `*`, DASH, `enc *`): every literal run of a
 * pattern occurs in whatever it matches, so the longest run is a necessary
 * substring, or prefix/suffix when it is the anchored first/last run.
 */
function globAtom(slot: number, parts: readonly Part[]): Atom | undefined {
  let best = '';
  let bestAt = -1;
  let bestEnd = -1;
  let run = '';
  let start = 0;
  for (let i = 0; i <= parts.length; i++) {
    const p = parts[i];
    if (typeof p === 'string') {
      if (run === '') start = i;
      run += p;
      continue;
    }
    if (run.length > best.length) {
      best = run;
      bestAt = start;
      bestEnd = i;
    }
    run = '';
  }
  const text = best.toLowerCase();
  if (text.length < 2) return undefined;
  if (bestAt === 0) return { slot, kind: 'prefix', value: text };
  if (bestEnd === parts.length) return { slot, kind: 'suffix', value: text };
  return { slot, kind: 'substring', value: text };
}

/**
 * EventID values the condition requires (one of them must be present for a
 * match), so the rule index only offers the rule events with those ids.
 * Undefined when the condition does not pin the EventID.
 */
export function requiredEventIds(
  node: ConditionNode,
  detection: Record<string, unknown>,
): Set<string> | undefined {
  switch (node.t) {
    case 'id':
      return selectionEventIds(detection[node.name]);
    case 'not':
      return undefined;
    case 'and': {
      const sets = node.items.map((i) => requiredEventIds(i, detection)).filter((s): s is Set<string> => !!s);
      return sets.length ? intersect(sets) : undefined;
    }
    case 'or': {
      const sets = node.items.map((i) => requiredEventIds(i, detection));
      return sets.some((s) => !s) ? undefined : union(sets as Array<Set<string>>);
    }
    case 'of': {
      const sets = node.names.map((n) => selectionEventIds(detection[n]));
      if (node.min === 'all') {
        const known = sets.filter((s): s is Set<string> => !!s);
        return known.length ? intersect(known) : undefined;
      }
      return sets.some((s) => !s) ? undefined : union(sets as Array<Set<string>>);
    }
  }
}

function selectionEventIds(sel: unknown): Set<string> | undefined {
  const fromMap = (m: Record<string, unknown>): Set<string> | undefined => {
    const raw = m.EventID;
    if (raw === undefined) return undefined;
    const list = Array.isArray(raw) ? raw : [raw];
    if (
      list.length === 0 ||
      list.some((x) => typeof x !== 'number' && (typeof x !== 'string' || !/^\d+$/.test(x)))
    ) {
      return undefined;
    }
    return new Set(list.map((x) => String(x)));
  };
  if (isPlainObject(sel)) return fromMap(sel);
  if (Array.isArray(sel) && sel.length > 0 && sel.every(isPlainObject)) {
    const sets = sel.map(fromMap);
    return sets.some((s) => !s) ? undefined : union(sets as Array<Set<string>>);
  }
  return undefined;
}

function intersect(sets: Array<Set<string>>): Set<string> {
  const [first, ...rest] = sets;
  return new Set([...first!].filter((x) => rest.every((s) => s.has(x))));
}

/** The union of sets of EventIDs. */
export function union(sets: Array<Set<string>>): Set<string> {
  const out = new Set<string>();
  for (const s of sets) for (const x of s) out.add(x);
  return out;
}
