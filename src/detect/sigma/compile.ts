import { type ConditionNode, parseCondition, referencedIdentifiers } from './condition.ts';
import { cidrNode, existsNode, fieldrefNode, numericNode, regexNode, stringNode } from './field-tests.ts';
import { invalid, RuleError, RuleErrors, unsupported } from './issues.ts';
import { compileKeywords } from './keywords.ts';
import { parseFieldKey } from './modifiers.ts';
import {
  andNode,
  type CompileContext,
  type CompileState,
  compileCondition,
  type Match,
  type Node,
  orNode,
  type Path,
} from './nodes.ts';
import { type Atom, requiredEventIds, union } from './prefilter.ts';
import { isPlainObject } from './yaml-doc.ts';

export type { CompileContext, Match } from './nodes.ts';
export type { Atom } from './prefilter.ts';

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
