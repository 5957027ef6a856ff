import { invalid, unsupported } from './issues.ts';

/**
 * The Sigma condition language: `and`, `or`, `not`, parentheses, search
 * identifiers, and the quantifiers `1 of sel*`, `all of them`, `N of …`.
 * Precedence, loosest first: or, and, not, `x of`, parentheses.
 */
export type ConditionNode =
  | { t: 'id'; name: string }
  | { t: 'and'; items: ConditionNode[] }
  | { t: 'or'; items: ConditionNode[] }
  | { t: 'not'; item: ConditionNode }
  /** At least `min` of `names` (`all` is min = names.length). */
  | { t: 'of'; min: number | 'all'; names: string[]; pattern: string };

interface Token {
  text: string;
  lower: string;
  col: number;
}

const IDENT = /^[^\s()]+$/;

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    if (c === '(' || c === ')') {
      out.push({ text: c, lower: c, col: i + 1 });
      i++;
      continue;
    }
    let j = i;
    while (j < src.length && !/[\s()]/.test(src[j]!)) j++;
    const text = src.slice(i, j);
    out.push({ text, lower: text.toLowerCase(), col: i + 1 });
    i = j;
  }
  return out;
}

function globToRegExp(pattern: string): RegExp {
  const body = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${body}$`);
}

const KEYWORDS = new Set(['and', 'or', 'not', 'of', '(', ')']);

/**
 * Parse a condition into an AST, resolving identifier patterns against the
 * search identifiers the rule defines. Errors name the column.
 *
 * @example
 * parseCondition('selection and not 1 of filter_*', ['selection', 'filter_a', 'filter_b'])
 * // { t: 'and', items: [{ t: 'id', name: 'selection' }, { t: 'not', item: { t: 'of', min: 1, … } }] }
 */
export function parseCondition(
  src: string,
  identifiers: readonly string[],
  path: ReadonlyArray<string | number> = ['detection', 'condition'],
): ConditionNode {
  if (src.includes('|')) {
    throw unsupported(
      `condition uses the deprecated aggregation syntax (${JSON.stringify(src.slice(src.indexOf('|')).trim())}); rewrite it as a correlation rule`,
      path,
    );
  }
  const known = new Set(identifiers);
  const tokens = tokenize(src);
  if (tokens.length === 0) throw invalid('condition is empty', path);
  let pos = 0;
  const peek = () => tokens[pos];
  const fail = (msg: string, tok?: Token): never => {
    throw invalid(
      `condition ${JSON.stringify(src)}: ${msg}${tok ? ` at column ${tok.col}` : ' at the end'}`,
      path,
    );
  };

  const parseOr = (): ConditionNode => {
    const items = [parseAnd()];
    while (peek()?.lower === 'or') {
      pos++;
      items.push(parseAnd());
    }
    return items.length === 1 ? items[0]! : { t: 'or', items };
  };
  const parseAnd = (): ConditionNode => {
    const items = [parseNot()];
    while (peek()?.lower === 'and') {
      pos++;
      items.push(parseNot());
    }
    return items.length === 1 ? items[0]! : { t: 'and', items };
  };
  const parseNot = (): ConditionNode => {
    if (peek()?.lower === 'not') {
      pos++;
      return { t: 'not', item: parseNot() };
    }
    return parsePrimary();
  };
  const parsePrimary = (): ConditionNode => {
    const tok = peek();
    if (!tok) return fail('an identifier or ( was expected');
    if (tok.text === '(') {
      pos++;
      const inner = parseOr();
      if (peek()?.text !== ')') return fail('a closing ) is missing', peek());
      pos++;
      return inner;
    }
    if (tok.lower === 'near') {
      throw unsupported(
        'condition uses the deprecated near operator; rewrite it as a temporal correlation',
        path,
      );
    }
    const next = tokens[pos + 1];
    if (next?.lower === 'of') {
      let min: number | 'all';
      if (tok.lower === 'all') min = 'all';
      else if (tok.lower === 'any') min = 1;
      else if (/^\d+$/.test(tok.text)) min = Number(tok.text);
      else return fail(`${JSON.stringify(tok.text)} cannot quantify "of" (use 1, all or a number)`, tok);
      const target = tokens[pos + 2];
      if (!target || KEYWORDS.has(target.lower))
        return fail('"of" needs an identifier pattern or them', target);
      pos += 3;
      let names: string[];
      if (target.lower === 'them') names = identifiers.filter((n) => !n.startsWith('_'));
      else if (target.text.includes('*')) {
        const re = globToRegExp(target.text);
        names = identifiers.filter((n) => re.test(n));
      } else names = known.has(target.text) ? [target.text] : [];
      if (names.length === 0)
        return fail(`${JSON.stringify(target.text)} matches no search identifier`, target);
      if (min !== 'all' && min < 1) return fail('a quantifier must be at least 1', tok);
      return { t: 'of', min, names, pattern: target.text };
    }
    if (KEYWORDS.has(tok.lower)) return fail(`unexpected ${JSON.stringify(tok.text)}`, tok);
    if (!IDENT.test(tok.text)) return fail(`${JSON.stringify(tok.text)} is not an identifier`, tok);
    if (!known.has(tok.text)) return fail(`unknown search identifier ${JSON.stringify(tok.text)}`, tok);
    pos++;
    return { t: 'id', name: tok.text };
  };

  const ast = parseOr();
  if (pos < tokens.length) fail(`unexpected ${JSON.stringify(tokens[pos]!.text)}`, tokens[pos]);
  return ast;
}

/** Search identifiers a condition refers to. */
export function referencedIdentifiers(node: ConditionNode, out = new Set<string>()): Set<string> {
  switch (node.t) {
    case 'id':
      out.add(node.name);
      break;
    case 'and':
    case 'or':
      for (const i of node.items) referencedIdentifiers(i, out);
      break;
    case 'not':
      referencedIdentifiers(node.item, out);
      break;
    case 'of':
      for (const n of node.names) out.add(n);
      break;
  }
  return out;
}
