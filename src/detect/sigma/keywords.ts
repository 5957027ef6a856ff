/**
 * Keyword searches: values looked for anywhere in an event's text, not in
 * one field.
 */
import { buildRegex, splitNeedles } from './field-tests.ts';
import type { EventView } from './fields.ts';
import { anyGlob, NeedleSet, type StrTest } from './glob.ts';
import { invalid } from './issues.ts';
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
import { stringPatterns } from './value-patterns.ts';

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

/** A keyword search over the event's text, remembered per event (see {@link keywordMemo}). */
export function compileKeywords(
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
