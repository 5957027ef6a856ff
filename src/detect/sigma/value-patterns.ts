/**
 * Value modifiers applied: a field's values become wildcard patterns, each
 * value fanning out to its variants (placeholders, encodings, windash).
 */
import { invalid, unsupported } from './issues.ts';
import type { FieldKey, Modifier } from './modifiers.ts';
import { COST, type CompileContext, type Path } from './nodes.ts';
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

/** The string patterns of a value list after modifiers, each value fanning out to its variants. */
export function stringPatterns(
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

/** The rough cost of testing a field against these patterns. */
export function costOf(patterns: Part[][]): number {
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
