import { stem } from './stem.ts';
import { STOPWORDS } from './stopwords.ts';

/**
 * The analyser shared by the lexical index and the text→technique mapper, so
 * a query and the documents it should match are cut the same way.
 *
 * - Words are runs of letters and digits joined by `.`, `-` or `_`
 *   (`lsass.exe`, `T1059.001`, `x86-64`, `203.0.113.5`). A joined word is
 *   kept whole (lower-cased) and also split into its parts, so `lsass`
 *   matches `lsass.exe` and the file name still matches exactly.
 * - camelCase and PascalCase are split too (`StopLogging` → `stop`, `logging`
 *   and `stoplogging`): cloud API names in alerts then meet the prose of
 *   ATT&CK.
 * - Parts are lower-cased, stop words dropped, and stemmed ({@link stem}).
 *   Numbers are kept when they have three digits or more (event ids such as
 *   4624), and dotted numbers (addresses, versions) only whole.
 * - Words longer than 64 characters (base64 blobs, hashes beyond SHA-256)
 *   are skipped: they never help rank and they bloat the index.
 */

const CAMEL = /\p{Lu}?\p{Ll}+|\p{Lu}+(?!\p{Ll})|\p{N}+|\p{Lu}/gu;
const MAX_WORD = 64;

function keepPart(p: string): boolean {
  if (p.length < 2 || STOPWORDS.has(p)) return false;
  if (/^\p{N}+$/u.test(p)) return p.length >= 3;
  return true;
}

/** Tokens of one word, before caching. */
function analyseWord(word: string, out: string[]): void {
  const lower = word.toLowerCase();
  const joined = /[._-]/.test(word);
  if (joined && /^[\p{N}.]+$/u.test(word)) {
    out.push(lower);
    return;
  }
  // Fast path: a plain lower-case word (most of prose) needs no splitting.
  if (!joined && lower === word) {
    if (keepPart(lower)) out.push(stem(lower));
    return;
  }
  const pieces = joined ? word.split(/[._-]/) : [word];
  let split = joined;
  for (const piece of pieces) {
    const camel = piece.match(CAMEL) ?? [piece];
    if (camel.length > 1) split = true;
    for (const c of camel) {
      const p = c.toLowerCase();
      if (keepPart(p)) out.push(stem(p));
    }
  }
  if (split && lower.length > 3) out.push(stem(lower));
}

// Words repeat a great deal (ATT&CK has ~40,000 distinct words in ~2 million), so their analysis is cached.
const cache = new Map<string, readonly string[]>();
const CACHE_LIMIT = 200_000;

/**
 * Tokens of a text, in order, with repeats (term frequency matters).
 *
 * @example tokenize('Mimikatz dumped LSASS via lsass.exe') // ['mimikatz', 'dump', 'lsass', 'lsass', 'exe', 'lsass.exe']
 */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  // A hand-written scanner: about three times faster than matchAll with a Unicode regex, which matters
  // when the whole of ATT&CK is indexed at start-up.
  const n = text.length;
  let i = 0;
  while (i < n) {
    if (!isWordChar(text, i)) {
      i++;
      continue;
    }
    const start = i;
    i++;
    for (;;) {
      if (i < n && isWordChar(text, i)) i++;
      else if (i + 1 < n && isJoiner(text.charCodeAt(i)) && isWordChar(text, i + 1)) i += 2;
      else break;
    }
    if (i - start > MAX_WORD) continue;
    const word = text.slice(start, i);
    let tokens = cache.get(word);
    if (!tokens) {
      const t: string[] = [];
      analyseWord(word, t);
      tokens = t;
      if (cache.size >= CACHE_LIMIT) cache.clear();
      cache.set(word, tokens);
    }
    for (const t of tokens) out.push(t);
  }
  return out;
}

function isJoiner(c: number): boolean {
  return c === 46 || c === 45 || c === 95; // . - _
}

const NON_ASCII_WORD = /[\p{L}\p{N}]/u;

function isWordChar(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  if (c < 128) return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
  return NON_ASCII_WORD.test(s[i]!);
}

/**
 * Distinct tokens with their counts.
 *
 * @example termCounts('dump dumps') // Map { 'dump' => 2 }
 */
export function termCounts(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const t of tokenize(text)) m.set(t, (m.get(t) ?? 0) + 1);
  return m;
}
