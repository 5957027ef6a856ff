import { cidrTest, parseCidr } from './cidr.ts';
import { type ConditionNode, parseCondition, referencedIdentifiers } from './condition.ts';
import { type EventView, type FieldRegistry, scalarString } from './fields.ts';
import { anyGlob, GRAM_MIN_LENGTH, NeedleSet, type StrTest, shapeOf } from './glob.ts';
import { invalid, RuleError, RuleErrors, unsupported } from './issues.ts';
import { type FieldKey, type Modifier, parseFieldKey } from './modifiers.ts';
import { compileRegex, type RegexEngine, RegexError, requiredLiteral } from './regex.ts';
import {
  ANY,
  applyWindash,
  base64,
  base64Offsets,
  hasWildcards,
  literalParts,
  type Part,
  parseSigmaString,
  plainText,
  utf16be,
  utf16bom,
  utf16le,
  wrapContains,
  wrapEnd,
  wrapStart,
} from './sigma-string.ts';

/** A compiled test of one event (seen through a view). */
export type Match = (v: EventView) => boolean;

/** A compiled node with a rough cost, so cheap tests run first in `and`/`or`. */
interface Node {
  match: Match;
  cost: number;
  /**
   * A necessary condition for a match, when one is known: the node can only
   * be true if one of these atoms holds. Used to index rules by field value.
   */
  atoms?: Atom[];
}

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
function bestAtoms(items: Node[]): Atom[] | undefined {
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
function unionAtoms(items: Node[]): Atom[] | undefined {
  const out: Atom[] = [];
  for (const n of items) {
    if (!n.atoms) return undefined;
    out.push(...n.atoms);
  }
  return out;
}

const BASENAME_SUFFIX = /^[\\/][^\\/]+$/;

/** Atoms of a field matching any of `patterns`, or undefined when one pattern is not indexable. */
function patternAtoms(slot: number, patterns: Part[][]): Atom[] | undefined {
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

type Path = ReadonlyArray<string | number>;

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

/** A compiled detection section. */
export interface CompiledDetection {
  match: Match;
  /** EventID values one of which every match must carry, when the condition requires one. */
  eventIds?: ReadonlySet<string>;
  /** Field names the detection reads. */
  fields: ReadonlySet<string>;
  /** Engines that run the regular expressions of the rule. */
  regexEngines: ReadonlySet<'re2' | 'native'>;
  /** A necessary condition on field values (one atom must hold), when the detection has one. */
  atoms?: Atom[];
}

const COST = { exact: 1, prefix: 2, suffix: 2, contains: 4, glob: 6, regex: 25, keyword: 40 } as const;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Compile a rule's `detection` section into one closure. Search identifiers
 * become tests over fields (maps: AND; lists of maps: OR; lists of
 * strings: keyword search), the condition combines them; AND and OR
 * evaluate their cheapest children first.
 *
 * @example
 * const d = compileDetection({ sel: { 'Image|endswith': '\\cmd.exe' }, condition: 'sel' }, ctx);
 * d.match(view) // true for an event whose Image ends with \cmd.exe (any case)
 */
export function compileDetection(
  detection: Record<string, unknown>,
  ctx: CompileContext,
  basePath: Path = ['detection'],
): CompiledDetection {
  const condition = detection.condition;
  const identifiers = Object.keys(detection).filter((k) => k !== 'condition' && k !== 'timeframe');
  if ('timeframe' in detection) {
    throw unsupported(
      'detection.timeframe (the deprecated aggregation window) is not supported; use a correlation rule',
      [...basePath, 'timeframe'],
    );
  }
  if (condition === undefined || condition === null) throw invalid('detection has no condition', basePath);
  const conditions = Array.isArray(condition) ? condition : [condition];
  if (conditions.length === 0 || conditions.some((c) => typeof c !== 'string')) {
    throw invalid('detection.condition must be a string or a list of strings', [...basePath, 'condition']);
  }
  if (identifiers.length === 0) throw invalid('detection defines no search identifier', basePath);
  // Every search identifier and the condition are checked, so one run reports all of a rule's errors.
  const errors: RuleError[] = [];
  const asts: ConditionNode[] = [];
  conditions.forEach((c, i) => {
    try {
      asts.push(
        parseCondition(
          c as string,
          identifiers,
          Array.isArray(condition) ? [...basePath, 'condition', i] : [...basePath, 'condition'],
        ),
      );
    } catch (err) {
      if (err instanceof RuleError) errors.push(err);
      else throw err;
    }
  });
  const used = new Set<string>();
  for (const a of asts) referencedIdentifiers(a, used);
  const state = { fields: new Set<string>(), engines: new Set<'re2' | 'native'>() };
  const compiled = new Map<string, Node>();
  for (const id of identifiers) {
    if (errors.length === 0 && !used.has(id)) {
      ctx.warn(`search identifier ${JSON.stringify(id)} is not used by the condition`, [...basePath, id]);
    }
    try {
      compiled.set(id, compileSelection(detection[id], [...basePath, id], ctx, state));
    } catch (err) {
      if (err instanceof RuleErrors) errors.push(...err.errors);
      else if (err instanceof RuleError) errors.push(err);
      else throw err;
    }
  }
  if (errors.length === 1) throw errors[0]!;
  if (errors.length > 1) throw new RuleErrors(errors);
  const selection = (name: string): Node => compiled.get(name)!;
  const nodes = asts.map((a) => compileCondition(a, selection));
  const root = nodes.length === 1 ? nodes[0]! : orNode(nodes);
  const ids = asts.map((a) => requiredEventIds(a, detection));
  const eventIds = ids.some((x) => x === undefined) ? undefined : union(ids as Array<Set<string>>);
  const out: CompiledDetection = { match: root.match, fields: state.fields, regexEngines: state.engines };
  if (eventIds) out.eventIds = eventIds;
  if (root.atoms) out.atoms = root.atoms;
  return out;
}

interface CompileState {
  fields: Set<string>;
  engines: Set<'re2' | 'native'>;
}

function compileCondition(node: ConditionNode, selection: (name: string) => Node): Node {
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

function andNode(items: Node[]): Node {
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

function orNode(items: Node[]): Node {
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

function compileSelection(value: unknown, path: Path, ctx: CompileContext, state: CompileState): Node {
  if (isPlainObject(value)) return compileMap(value, path, ctx, state);
  if (Array.isArray(value)) {
    if (value.length === 0) throw invalid('a search identifier holds an empty list', path);
    const maps: Node[] = [];
    const keywords: unknown[] = [];
    value.forEach((item, i) => {
      if (isPlainObject(item)) maps.push(compileMap(item, [...path, i], ctx, state));
      else if (Array.isArray(item))
        throw invalid('a list inside a search identifier list is not valid Sigma', [...path, i]);
      else keywords.push(item);
    });
    if (keywords.length) maps.push(compileKeywords(keywords, [], path, ctx, state));
    return orNode(maps);
  }
  if (typeof value === 'string' || typeof value === 'number')
    return compileKeywords([value], [], path, ctx, state);
  throw invalid('a search identifier must be a map, a list of maps or a list of keywords', path);
}

function compileMap(
  map: Record<string, unknown>,
  path: Path,
  ctx: CompileContext,
  state: CompileState,
): Node {
  const keys = Object.keys(map);
  if (keys.length === 0) throw invalid('a search identifier map is empty', path);
  return andNode(keys.map((k) => compileEntry(k, map[k], [...path, k], ctx, state)));
}

function valuesOf(raw: unknown, path: Path): unknown[] {
  const values = Array.isArray(raw) ? raw : [raw];
  if (values.length === 0) throw invalid('a field has an empty list of values', path);
  values.forEach((v, i) => {
    if (typeof v === 'object' && v !== null) {
      throw invalid(
        'a field value must be a string, number, boolean or null, not a map or list',
        Array.isArray(raw) ? [...path, i] : path,
      );
    }
  });
  return values;
}

function compileEntry(key: string, raw: unknown, path: Path, ctx: CompileContext, state: CompileState): Node {
  const fk = parseFieldKey(key, path);
  const values = valuesOf(raw, path);
  if (fk.field === '') return compileKeywords(values, fk.modifiers, path, ctx, state);
  state.fields.add(fk.field);
  const slot = ctx.fields.slot(fk.field);
  const mods = new Set(fk.modifiers);
  if (mods.has('exists')) return existsNode(slot, values, path);
  if (mods.has('fieldref')) return fieldrefNode(slot, fk, values, path, ctx, state);
  if (mods.has('cidr')) return cidrNode(slot, fk, values, path);
  if (mods.has('re')) return regexNode(slot, fk, values, path, ctx, state);
  const time = fk.modifiers.find(
    (m) => m === 'minute' || m === 'hour' || m === 'day' || m === 'week' || m === 'month' || m === 'year',
  );
  const compare = fk.modifiers.find((m) => m === 'lt' || m === 'lte' || m === 'gt' || m === 'gte');
  if (compare || time) return numericNode(slot, fk, compare, time, values, path);
  const node = stringNode(slot, fk, values, path, ctx);
  if (!mods.has('neq')) return node;
  const m = node.match;
  return { match: (v) => v.value(slot) !== undefined && v.value(slot) !== null && !m(v), cost: node.cost };
}

function existsNode(slot: number, values: unknown[], path: Path): Node {
  const [flag] = values;
  if (values.length !== 1 || (typeof flag !== 'boolean' && flag !== 'true' && flag !== 'false')) {
    throw invalid('exists takes one value: true or false', path);
  }
  const want = flag === true || flag === 'true';
  return { match: (v) => (v.value(slot) !== undefined) === want, cost: COST.exact };
}

/** The string patterns of a value list after modifiers, each value fanning out to its variants. */
function stringPatterns(
  fk: FieldKey,
  values: unknown[],
  path: Path,
  ctx: CompileContext,
): {
  perValue: Part[][][];
  nullWanted: boolean;
  cased: boolean;
} {
  const mods = fk.modifiers;
  const cased = mods.includes('cased');
  let nullWanted = false;
  const perValue: Part[][][] = [];
  values.forEach((raw, i) => {
    const vpath = values.length > 1 ? [...path, i] : path;
    if (raw === null) {
      nullWanted = true;
      return;
    }
    const text = typeof raw === 'string' ? raw : String(raw);
    let variants: Part[][];
    if (mods.includes('expand')) {
      variants = expandPlaceholders(text, vpath, ctx).map((s) => parseSigmaString(s));
    } else variants = [parseSigmaString(text)];
    let binary = false;
    for (const m of mods)
      variants = applyModifier(
        m,
        variants,
        vpath,
        () => binary,
        (b) => (binary = b),
      );
    if (!cased) variants = variants.map(lowerParts);
    perValue.push(variants);
  });
  return { perValue, nullWanted, cased };
}

function applyModifier(
  m: Modifier,
  variants: Part[][],
  path: Path,
  isBinary: () => boolean,
  setBinary: (b: boolean) => void,
): Part[][] {
  const needPlain = (parts: Part[]) => {
    if (hasWildcards(parts)) throw invalid(`the ${m} modifier cannot encode a value with wildcards`, path);
    return plainText(parts);
  };
  switch (m) {
    case 'contains':
      return variants.map(wrapContains);
    case 'startswith':
      return variants.map(wrapEnd);
    case 'endswith':
      return variants.map(wrapStart);
    case 'windash':
      return variants.map(applyWindash);
    case 'base64': {
      const b = isBinary();
      setBinary(false);
      return variants.map((p) => literalParts(base64(needPlain(p), b)));
    }
    case 'base64offset': {
      const b = isBinary();
      setBinary(false);
      return variants.flatMap((p) => base64Offsets(needPlain(p), b).map(literalParts));
    }
    case 'utf16le':
    case 'wide':
      setBinary(true);
      return variants.map((p) => literalParts(utf16le(needPlain(p))));
    case 'utf16be':
      setBinary(true);
      return variants.map((p) => literalParts(utf16be(needPlain(p))));
    case 'utf16':
      setBinary(true);
      return variants.map((p) => literalParts(utf16bom(needPlain(p))));
    default:
      return variants;
  }
}

function lowerParts(parts: Part[]): Part[] {
  return parts.map((p) => (typeof p === 'string' ? p.toLowerCase() : p));
}

const PLACEHOLDER = /(?<!\\)%([A-Za-z0-9_.-]+)%/g;

function expandPlaceholders(text: string, path: Path, ctx: CompileContext): string[] {
  let results = [''];
  let last = 0;
  for (const m of text.matchAll(PLACEHOLDER)) {
    const before = text.slice(last, m.index).replace(/\\%/g, '%');
    const name = m[1]!;
    let values = ctx.placeholders[name];
    if (!values) {
      if (ctx.unknownPlaceholder === 'reject') {
        throw unsupported(`placeholder %${name}% has no configured values (detect.sigma.placeholders)`, path);
      }
      ctx.warn(`placeholder %${name}% has no configured values; it expands to nothing`, path);
      values = [];
    }
    const next: string[] = [];
    for (const r of results) for (const v of values) next.push(r + before + v);
    results = next;
    last = (m.index ?? 0) + m[0].length;
  }
  const tail = text.slice(last).replace(/\\%/g, '%');
  return results.map((r) => r + tail);
}

function costOf(patterns: Part[][]): number {
  let c = 0;
  for (const p of patterns) {
    const hasMidWild = p.slice(1, -1).some((x) => typeof x !== 'string');
    if (hasMidWild) c += COST.glob;
    else if (p[0] === ANY && p[p.length - 1] === ANY) c += COST.contains;
    else if (p[0] === ANY || p[p.length - 1] === ANY) c += COST.suffix;
    else c += COST.exact;
  }
  return Math.max(1, Math.min(c, 50));
}

/** Lists with at least this many `contains` values are searched as a {@link NeedleSet}. */
const NEEDLE_SET_MIN = 4;

/** NeedleSets at least this large use the field's bigram bitmap on long values. */
const NEEDLE_GRAMS_MIN = 24;

/** Split patterns into plain substrings (`*text*`) and the rest. */
function splitNeedles(patterns: Part[][]): { needles: string[]; rest: Part[][] } {
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

function stringNode(slot: number, fk: FieldKey, values: unknown[], path: Path, ctx: CompileContext): Node {
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

function keywordTest(test: StrTest, cased: boolean): Match {
  return (v) => {
    const strings = cased ? v.keywordStrings() : v.keywordStringsLower();
    for (let i = 0; i < strings.length; i++) if (test(strings[i]!)) return true;
    return false;
  };
}

/**
 * A keyword search that remembers its result for the view's keyword epoch:
 * a `product: windows` keyword rule is offered one event through several
 * branches of the pipeline, which read the same keyword strings, so the
 * search (a scan of every event-data string) runs once per event.
 */
function keywordMemo(node: Node): Node {
  const m = node.match;
  let lastView: EventView | undefined;
  let lastEpoch = -1;
  let last = false;
  return {
    ...node,
    match: (v) => {
      if (v === lastView && v.keywordEpoch === lastEpoch) return last;
      last = m(v);
      lastView = v;
      lastEpoch = v.keywordEpoch;
      return last;
    },
  };
}

function compileKeywords(
  values: unknown[],
  modifiers: Modifier[],
  path: Path,
  ctx: CompileContext,
  state: CompileState,
): Node {
  return keywordMemo(compileKeywordSearch(values, modifiers, path, ctx, state));
}

function compileKeywordSearch(
  values: unknown[],
  modifiers: Modifier[],
  path: Path,
  ctx: CompileContext,
  state: CompileState,
): Node {
  for (const v of values) {
    if (v === null || typeof v === 'object') throw invalid('a keyword must be a string or number', path);
  }
  const mods = new Set(modifiers);
  if (mods.has('re')) {
    const tests = values.map((v, i) => {
      const r = buildRegex(String(v), mods, values.length > 1 ? [...path, i] : path, ctx, state);
      return keywordTest((s) => r.test(s), true);
    });
    const nodes = tests.map((match) => ({ match, cost: COST.keyword + COST.regex }));
    return mods.has('all') ? andNode(nodes) : orNode(nodes);
  }
  // Keywords search anywhere in the event's text, so they behave as `contains` unless told otherwise.
  const wildcard = modifiers.some((m) => m === 'contains' || m === 'startswith' || m === 'endswith');
  const fk: FieldKey = { field: '', modifiers: wildcard ? modifiers : [...modifiers, 'contains'] };
  const { perValue, cased } = stringPatterns(fk, values, path, ctx);
  if (mods.has('all')) {
    return andNode(
      perValue.map((variants) => ({ match: keywordTest(anyGlob(variants), cased), cost: COST.keyword })),
    );
  }
  const flat = perValue.flat();
  const { needles, rest } = splitNeedles(flat);
  if (cased || needles.length === 0) return { match: keywordTest(anyGlob(flat), cased), cost: COST.keyword };
  const other = rest.length ? keywordTest(anyGlob(rest), false) : undefined;
  if (needles.length <= 64) {
    // A case-insensitive alternation of plain literals: no quantifier, so no backtracking risk, and
    // it runs on the event's strings as they are, without lowercasing or joining them.
    const re = new RegExp(needles.map((n) => n.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|'), 'i');
    const test = (s: string) => re.test(s);
    return {
      match: (v) => v.someKeywordString(test) || other?.(v) === true,
      cost: COST.keyword,
    };
  }
  // Long keyword lists search one lowercase text of the whole event, filtered by its bigrams.
  const set = new NeedleSet(needles);
  return {
    match: (v) => set.test(v.keywordTextLower(), v.keywordGrams()) || other?.(v) === true,
    cost: COST.keyword,
  };
}

function buildRegex(
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

function regexNode(
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

function cidrNode(slot: number, fk: FieldKey, values: unknown[], path: Path): Node {
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

function fieldrefNode(
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

function numericNode(
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

/**
 * EventID values the condition requires (one of them must be present for a
 * match), so the rule index only offers the rule events with those ids.
 * Undefined when the condition does not pin the EventID.
 */
function requiredEventIds(node: ConditionNode, detection: Record<string, unknown>): Set<string> | undefined {
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

function union(sets: Array<Set<string>>): Set<string> {
  const out = new Set<string>();
  for (const s of sets) for (const x of s) out.add(x);
  return out;
}
