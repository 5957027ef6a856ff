import { invalid, unsupported } from './issues.ts';

/**
 * Value modifiers (`Field|contains|all`), as the specification defines them.
 * Each is classified so a chain can be checked before anything is compiled.
 */
export const MODIFIERS = {
  contains: 'wildcard',
  startswith: 'wildcard',
  endswith: 'wildcard',
  all: 'list',
  re: 'type',
  i: 're-flag',
  m: 're-flag',
  s: 're-flag',
  cidr: 'type',
  base64: 'encoding',
  base64offset: 'encoding',
  utf16le: 'encoding',
  utf16be: 'encoding',
  utf16: 'encoding',
  wide: 'encoding',
  windash: 'transform',
  exists: 'type',
  lt: 'compare',
  lte: 'compare',
  gt: 'compare',
  gte: 'compare',
  neq: 'negate',
  fieldref: 'type',
  cased: 'case',
  expand: 'transform',
  minute: 'time',
  hour: 'time',
  day: 'time',
  week: 'time',
  month: 'time',
  year: 'time',
} as const;

export type Modifier = keyof typeof MODIFIERS;

export function isModifier(s: string): s is Modifier {
  return Object.hasOwn(MODIFIERS, s);
}

/** A parsed `Field|mod|mod` key. */
export interface FieldKey {
  /** Field name; empty for keyword searches (`'|all'`). */
  field: string;
  modifiers: Modifier[];
}

/**
 * Parse and check a detection key. Unknown modifiers and impossible chains
 * (`re` with `contains`, `cidr` with `base64`, a regex flag without `re`)
 * are errors naming the key.
 *
 * @example parseFieldKey('CommandLine|contains|all', path) // { field: 'CommandLine', modifiers: ['contains', 'all'] }
 */
export function parseFieldKey(key: string, path: ReadonlyArray<string | number>): FieldKey {
  const [field = '', ...mods] = key.split('|');
  const modifiers: Modifier[] = [];
  for (const raw of mods) {
    const m = raw.trim();
    if (!isModifier(m)) {
      throw invalid(`unknown value modifier ${JSON.stringify(raw)} in ${JSON.stringify(key)}`, path);
    }
    modifiers.push(m);
  }
  const has = (m: Modifier) => modifiers.includes(m);
  const types = modifiers.filter((m) => MODIFIERS[m] === 'type');
  if (types.length > 1) throw invalid(`${JSON.stringify(key)} combines ${types.join(' and ')}`, path);
  if (!has('re') && modifiers.some((m) => MODIFIERS[m] === 're-flag')) {
    throw invalid(`${JSON.stringify(key)}: the regex flags i, m and s need the re modifier`, path);
  }
  if (has('re') || has('cidr') || has('exists')) {
    const bad = modifiers.filter(
      (m) =>
        MODIFIERS[m] === 'wildcard' ||
        MODIFIERS[m] === 'encoding' ||
        m === 'windash' ||
        MODIFIERS[m] === 'compare' ||
        (has('exists') && m !== 'exists'),
    );
    if (bad.length)
      throw invalid(`${JSON.stringify(key)}: ${types[0]} cannot be combined with ${bad.join(', ')}`, path);
  }
  const compares = modifiers.filter((m) => MODIFIERS[m] === 'compare');
  if (compares.length > 1) throw invalid(`${JSON.stringify(key)} combines ${compares.join(' and ')}`, path);
  if (compares.length && modifiers.some((m) => MODIFIERS[m] === 'wildcard' || MODIFIERS[m] === 'encoding')) {
    throw invalid(
      `${JSON.stringify(key)}: numeric comparisons cannot be combined with string modifiers`,
      path,
    );
  }
  const wildcards = modifiers.filter((m) => MODIFIERS[m] === 'wildcard');
  if (new Set(wildcards).size > 1) {
    throw invalid(`${JSON.stringify(key)} combines ${[...new Set(wildcards)].join(' and ')}`, path);
  }
  if (
    has('fieldref') &&
    modifiers.some((m) => MODIFIERS[m] === 'encoding' || m === 'windash' || m === 'expand')
  ) {
    throw unsupported(`${JSON.stringify(key)}: fieldref with encodings is not supported`, path);
  }
  return { field: field.trim(), modifiers };
}
