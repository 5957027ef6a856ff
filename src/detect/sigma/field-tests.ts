/**
 * Tests of one field: string patterns (with needle sets for long lists),
 * exists, regular expressions, CIDR ranges, field references and numeric
 * and time comparisons.
 */
import { cidrTest, parseCidr } from './cidr.ts';
import { type EventView, scalarString } from './fields.ts';
import { anyGlob, GRAM_MIN_LENGTH, NeedleSet, type StrTest, shapeOf } from './glob.ts';
import { invalid, unsupported } from './issues.ts';
import type { FieldKey, Modifier } from './modifiers.ts';
import {
  andNode,
  COST,
  type CompileContext,
  type CompileState,
  type Match,
  type Node,
  orNode,
  type Path,
} from './nodes.ts';
import { patternAtoms } from './prefilter.ts';
import { compileRegex, RegexError, requiredLiteral } from './regex.ts';
import type { Part } from './sigma-string.ts';
import { costOf, stringPatterns } from './value-patterns.ts';

/** `Field|exists: true|false`: whether the field is present. */
export function existsNode(slot: number, values: unknown[], path: Path): Node {
  const [flag] = values;
  if (values.length !== 1 || (typeof flag !== 'boolean' && flag !== 'true' && flag !== 'false')) {
    throw invalid('exists takes one value: true or false', path);
  }
  const want = flag === true || flag === 'true';
  return { match: (v) => (v.value(slot) !== undefined) === want, cost: COST.exact };
}

/** Lists with at least this many `contains` values are searched as a {@link NeedleSet}. */
const NEEDLE_SET_MIN = 4;

/** NeedleSets at least this large use the field's bigram bitmap on long values. */
const NEEDLE_GRAMS_MIN = 24;

/** Split patterns into plain substrings (`*text*`) and the rest. */
export function splitNeedles(patterns: Part[][]): { needles: string[]; rest: Part[][] } {
  const needles: string[] = [];
  const rest: Part[][] = [];
  for (const p of patterns) {
    const shape = shapeOf(p);
    if (shape.kind === 'contains') needles.push(shape.text);
    else rest.push(p);
  }
  return { needles, rest };
}

/**
 * A field matching any of several patterns. Long `contains` lists become a
 * {@link NeedleSet} that uses the field's bigram bitmap (computed once per
 * event and shared by every rule reading the field).
 */
function fieldMatchAny(slot: number, patterns: Part[][], cased: boolean): Match {
  const { needles, rest } = splitNeedles(patterns);
  if (cased || needles.length < NEEDLE_SET_MIN) return fieldTest(slot, anyGlob(patterns), cased);
  const set = new NeedleSet(needles);
  const other = rest.length ? anyGlob(rest) : undefined;
  // The bitmap costs a pass over the value; it pays off against many needles, not a handful.
  const gramsFrom = set.size >= NEEDLE_GRAMS_MIN ? GRAM_MIN_LENGTH : Number.POSITIVE_INFINITY;
  return (v) => {
    const s = v.lower(slot);
    if (s !== undefined) {
      if (other?.(s)) return true;
      return set.test(s, s.length >= gramsFrom ? v.grams(slot) : undefined);
    }
    const raw = v.value(slot);
    if (!Array.isArray(raw)) return false;
    for (const e of raw) {
      const es = scalarString(e);
      if (es === undefined) continue;
      const l = es.toLowerCase();
      if (other?.(l) || set.test(l)) return true;
    }
    return false;
  };
}

/** Test a slot's value(s) with a string test: scalars directly, arrays element by element. */
export function fieldTest(slot: number, test: StrTest, cased: boolean): Match {
  if (cased) {
    return (v) => {
      const s = v.str(slot);
      if (s !== undefined) return test(s);
      const raw = v.value(slot);
      if (!Array.isArray(raw)) return false;
      for (const e of raw) {
        const es = scalarString(e);
        if (es !== undefined && test(es)) return true;
      }
      return false;
    };
  }
  return (v) => {
    const s = v.lower(slot);
    if (s !== undefined) return test(s);
    const raw = v.value(slot);
    if (!Array.isArray(raw)) return false;
    for (const e of raw) {
      const es = scalarString(e);
      if (es !== undefined && test(es.toLowerCase())) return true;
    }
    return false;
  };
}

/** A field matching string values after modifiers (wildcards, encodings, `all`, `null`, `neq` is the caller's). */
export function stringNode(
  slot: number,
  fk: FieldKey,
  values: unknown[],
  path: Path,
  ctx: CompileContext,
): Node {
  const { perValue, nullWanted, cased } = stringPatterns(fk, values, path, ctx);
  const all = fk.modifiers.includes('all');
  let node: Node | undefined;
  if (perValue.length > 0) {
    if (all) {
      const parts = perValue.map((variants): Node => {
        const part: Node = { match: fieldTest(slot, anyGlob(variants), cased), cost: costOf(variants) };
        // Each value is necessary, so its atoms index the rule (`contains|all` lists are common).
        const atoms = patternAtoms(slot, variants);
        if (atoms) part.atoms = atoms;
        return part;
      });
      node = andNode(parts);
    } else {
      const flat = perValue.flat();
      node = { match: fieldMatchAny(slot, flat, cased), cost: costOf(flat) };
      const atoms = nullWanted ? undefined : patternAtoms(slot, flat);
      if (atoms) node.atoms = atoms;
    }
  } else if (!nullWanted) {
    // Every value came from a placeholder that expanded to nothing.
    node = { match: () => false, cost: COST.exact };
  }
  if (!nullWanted) return node!;
  const isNull: Node = {
    match: (v) => {
      const raw = v.value(slot);
      return raw === undefined || raw === null;
    },
    cost: COST.exact,
  };
  return node ? orNode([isNull, node]) : isNull;
}

/** Compile a regular expression with the modifiers' flags, recording the engine that runs it. */
export function buildRegex(
  source: string,
  mods: Set<Modifier>,
  path: Path,
  ctx: CompileContext,
  state: CompileState,
) {
  try {
    const r = compileRegex(source, { i: mods.has('i'), m: mods.has('m'), s: mods.has('s') }, ctx.regexEngine);
    state.engines.add(r.engine);
    return r;
  } catch (err) {
    if (err instanceof RegexError) throw unsupported(err.message, path);
    throw err;
  }
}

/** `Field|re`: regular expressions, each prefiltered by a literal every match must contain. */
export function regexNode(
  slot: number,
  fk: FieldKey,
  values: unknown[],
  path: Path,
  ctx: CompileContext,
  state: CompileState,
): Node {
  const mods = new Set(fk.modifiers);
  const nodes = values.map((raw, i): Node => {
    const vpath = values.length > 1 ? [...path, i] : path;
    if (typeof raw !== 'string') throw invalid('a regular expression must be a string', vpath);
    const r = buildRegex(raw, mods, vpath, ctx, state);
    const lit = requiredLiteral(raw, mods.has('i'));
    const full = fieldTest(slot, (s) => r.test(s), true);
    if (!lit) return { match: full, cost: COST.regex };
    // A substring every match must contain rules most events out before the regex runs.
    const pre = fieldTest(slot, (s) => s.includes(lit.text), !lit.caseInsensitive);
    const node: Node = { match: (v) => pre(v) && full(v), cost: COST.regex };
    // The prefilter compares lowercased values: an ASCII literal stays a substring of the lowercased
    // value whatever its case (lowercasing other characters can change lengths, never ASCII runs).
    const text = lit.text.toLowerCase();
    if (text.length >= 2 && /^[\x20-\x7e]+$/.test(text))
      node.atoms = [{ slot, kind: 'substring', value: text }];
    return node;
  });
  return mods.has('all') ? andNode(nodes) : orNode(nodes);
}

/** `Field|cidr`: an address within one of the ranges (or all, with `all`). */
export function cidrNode(slot: number, fk: FieldKey, values: unknown[], path: Path): Node {
  const ranges = values.map((raw, i) => {
    const r = typeof raw === 'string' ? parseCidr(raw) : undefined;
    if (!r)
      throw invalid(`${JSON.stringify(raw)} is not a CIDR range`, values.length > 1 ? [...path, i] : path);
    return r;
  });
  if (fk.modifiers.includes('all')) {
    return andNode(ranges.map((r) => ({ match: fieldTest(slot, cidrTest([r]), true), cost: COST.glob })));
  }
  return { match: fieldTest(slot, cidrTest(ranges), true), cost: COST.glob };
}

/** `Field|fieldref`: the field compared with another field of the same event. */
export function fieldrefNode(
  slot: number,
  fk: FieldKey,
  values: unknown[],
  path: Path,
  ctx: CompileContext,
  state: CompileState,
): Node {
  const cased = fk.modifiers.includes('cased');
  const mode = fk.modifiers.find((m) => m === 'contains' || m === 'startswith' || m === 'endswith');
  const nodes = values.map((raw, i): Node => {
    if (typeof raw !== 'string' || raw === '') {
      throw invalid('fieldref takes the name of another field', values.length > 1 ? [...path, i] : path);
    }
    state.fields.add(raw);
    const other = ctx.fields.slot(raw);
    const cmp = (a: string, b: string) =>
      mode === 'contains'
        ? a.includes(b)
        : mode === 'startswith'
          ? a.startsWith(b)
          : mode === 'endswith'
            ? a.endsWith(b)
            : a === b;
    return {
      match: (v) => {
        const as = stringsOf(v, slot, cased);
        if (as.length === 0) return false;
        const bs = stringsOf(v, other, cased);
        for (const a of as) for (const b of bs) if (cmp(a, b)) return true;
        return false;
      },
      cost: COST.prefix,
    };
  });
  const node = fk.modifiers.includes('all') ? andNode(nodes) : orNode(nodes);
  if (!fk.modifiers.includes('neq')) return node;
  const m = node.match;
  return { match: (v) => stringsOf(v, slot, cased).length > 0 && !m(v), cost: node.cost };
}

/** A field's value(s) as strings: one for a scalar, each scalar element of an array. */
function stringsOf(v: EventView, slot: number, cased: boolean): string[] {
  const s = cased ? v.str(slot) : v.lower(slot);
  if (s !== undefined) return [s];
  const raw = v.value(slot);
  if (!Array.isArray(raw)) return [];
  const out: string[] = [];
  for (const e of raw) {
    const es = scalarString(e);
    if (es !== undefined) out.push(cased ? es : es.toLowerCase());
  }
  return out;
}

const TIME_PART: Record<string, (d: Date) => number> = {
  minute: (d) => d.getUTCMinutes(),
  hour: (d) => d.getUTCHours(),
  day: (d) => d.getUTCDate(),
  month: (d) => d.getUTCMonth() + 1,
  year: (d) => d.getUTCFullYear(),
  week: (d) => {
    // ISO-8601 week: the week holding the year's first Thursday is week 1.
    const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
    t.setUTCDate(t.getUTCDate() + 3 - ((t.getUTCDay() + 6) % 7));
    const jan4 = new Date(Date.UTC(t.getUTCFullYear(), 0, 4));
    return 1 + Math.round(((t.getTime() - jan4.getTime()) / 86400e3 - 3 + ((jan4.getUTCDay() + 6) % 7)) / 7);
  },
};

/** `Field|lt|lte|gt|gte` and the time parts (`hour`, `week`, …): numeric comparisons. */
export function numericNode(
  slot: number,
  fk: FieldKey,
  compare: Modifier | undefined,
  time: Modifier | undefined,
  values: unknown[],
  path: Path,
): Node {
  const nums = values.map((raw, i) => {
    const n =
      typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : Number.NaN;
    if (!Number.isFinite(n))
      throw invalid(`${JSON.stringify(raw)} is not a number`, values.length > 1 ? [...path, i] : path);
    return n;
  });
  const extract = time ? TIME_PART[time]! : undefined;
  const toNumber = (x: unknown): number | undefined => {
    if (extract) {
      const d = typeof x === 'string' || typeof x === 'number' ? new Date(x) : undefined;
      return d && !Number.isNaN(d.getTime()) ? extract(d) : undefined;
    }
    if (typeof x === 'number') return x;
    if (typeof x === 'string' && x.trim() !== '') {
      const n = Number(x);
      return Number.isFinite(n) ? n : undefined;
    }
    return undefined;
  };
  const op = (a: number, b: number): boolean =>
    compare === 'lt'
      ? a < b
      : compare === 'lte'
        ? a <= b
        : compare === 'gt'
          ? a > b
          : compare === 'gte'
            ? a >= b
            : a === b;
  const all = fk.modifiers.includes('all');
  const neq = fk.modifiers.includes('neq');
  const one = (x: unknown): boolean => {
    const n = toNumber(x);
    if (n === undefined) return false;
    const hit = all ? nums.every((b) => op(n, b)) : nums.some((b) => op(n, b));
    return neq ? !hit : hit;
  };
  return {
    match: (v) => {
      const raw = v.value(slot);
      if (Array.isArray(raw)) return raw.some(one);
      return one(raw);
    },
    cost: COST.prefix,
  };
}
