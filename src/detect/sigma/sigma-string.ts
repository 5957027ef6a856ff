/**
 * A Sigma string value as a sequence of parts: literal text, the wildcards
 * `*` (any run of characters) and `?` (one character), and the `windash`
 * class (any of `-`, `/`, en dash, em dash, horizontal bar).
 *
 * Escaping follows the specification: a backslash escapes a following `*`,
 * `?` or backslash; any other backslash is a plain character. So
 * `C:\Windows\*` is the prefix `C:\Windows\` then a wildcard, and `\\*` is a
 * backslash then a wildcard.
 */
export type Part = string | typeof ANY | typeof ONE | typeof DASH;

export const ANY: unique symbol = Symbol('*');
export const ONE: unique symbol = Symbol('?');
export const DASH: unique symbol = Symbol('windash');

/** Characters `windash` treats as interchangeable. */
export const DASH_CHARS = ['-', '/', '\u2013', '\u2014', '\u2015'] as const;

/** Parse a rule value into parts, applying the escape rules. */
export function parseSigmaString(s: string): Part[] {
  const parts: Part[] = [];
  let lit = '';
  const flush = () => {
    if (lit) parts.push(lit);
    lit = '';
  };
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') {
      const n = s[i + 1];
      if (n === '*' || n === '?' || n === '\\') {
        lit += n;
        i++;
      } else lit += c;
      continue;
    }
    if (c === '*') {
      flush();
      if (parts[parts.length - 1] !== ANY) parts.push(ANY);
      continue;
    }
    if (c === '?') {
      flush();
      parts.push(ONE);
      continue;
    }
    lit += c;
  }
  flush();
  return parts;
}

/** A plain string as parts (no wildcard processing): used after encodings. */
export function literalParts(s: string): Part[] {
  return s ? [s] : [];
}

export function hasWildcards(parts: readonly Part[]): boolean {
  return parts.some((p) => typeof p !== 'string');
}

/** The literal text of parts that hold no wildcard. */
export function plainText(parts: readonly Part[]): string {
  return parts.map((p) => (typeof p === 'string' ? p : '')).join('');
}

/** `contains`: wildcards at both ends (not doubled). */
export function wrapContains(parts: Part[]): Part[] {
  return wrapEnd(wrapStart(parts));
}

/** `endswith`: a leading wildcard. */
export function wrapStart(parts: Part[]): Part[] {
  return parts[0] === ANY ? parts : [ANY, ...parts];
}

/** `startswith`: a trailing wildcard. */
export function wrapEnd(parts: Part[]): Part[] {
  return parts[parts.length - 1] === ANY ? parts : [...parts, ANY];
}

const WORD = /[\p{L}\p{N}_]/u;

/**
 * `windash`: a `-` or `/` that starts a command-line flag (not preceded by
 * a word character, followed by one) matches any dash-like character.
 * Slashes and dashes inside words and paths stay literal.
 */
export function applyWindash(parts: Part[]): Part[] {
  const out: Part[] = [];
  for (let pi = 0; pi < parts.length; pi++) {
    const p = parts[pi]!;
    if (typeof p !== 'string') {
      out.push(p);
      continue;
    }
    let lit = '';
    for (let i = 0; i < p.length; i++) {
      const c = p[i]!;
      if ((DASH_CHARS as readonly string[]).includes(c)) {
        const prev = i > 0 ? p[i - 1] : undefined;
        const next = i + 1 < p.length ? p[i + 1] : nextPartChar(parts, pi);
        const prevIsWord = prev !== undefined && WORD.test(prev);
        const nextIsWord = next !== undefined && WORD.test(next);
        if (!prevIsWord && nextIsWord) {
          if (lit) out.push(lit);
          lit = '';
          out.push(DASH);
          continue;
        }
      }
      lit += c;
    }
    if (lit) out.push(lit);
  }
  return out;
}

function nextPartChar(parts: readonly Part[], index: number): string | undefined {
  const n = parts[index + 1];
  return typeof n === 'string' ? n[0] : undefined;
}

/** UTF-16 little-endian bytes of a string, as a binary (latin1) string. */
export function utf16le(s: string): string {
  return Buffer.from(s, 'utf16le').toString('latin1');
}

/** UTF-16 big-endian bytes of a string, as a binary (latin1) string. */
export function utf16be(s: string): string {
  const le = Buffer.from(s, 'utf16le');
  for (let i = 0; i + 1 < le.length; i += 2) {
    const a = le[i]!;
    le[i] = le[i + 1]!;
    le[i + 1] = a;
  }
  return le.toString('latin1');
}

/** UTF-16 with a little-endian byte order mark. */
export function utf16bom(s: string): string {
  return `\xff\xfe${utf16le(s)}`;
}

/** Base64 of a binary (latin1) or text string: text is encoded as UTF-8 unless it is already binary. */
export function base64(s: string, binary: boolean): string {
  return Buffer.from(s, binary ? 'latin1' : 'utf8').toString('base64');
}

/**
 * `base64offset`: the three encodings of a value depending on its offset
 * (0, 1 or 2 bytes) inside a larger base64 text, with the characters that
 * depend on the unknown neighbours trimmed, so each is a plain substring of
 * any base64 text that contains the value.
 */
export function base64Offsets(s: string, binary: boolean): string[] {
  const bytes = Buffer.from(s, binary ? 'latin1' : 'utf8');
  const out: string[] = [];
  const startTrim = [0, 2, 3];
  const endTrim = [0, 3, 2];
  for (let shift = 0; shift < 3; shift++) {
    const padded = Buffer.concat([Buffer.alloc(shift), bytes]);
    const enc = padded.toString('base64');
    const end = enc.length - endTrim[(bytes.length + shift) % 3]!;
    out.push(enc.slice(startTrim[shift]!, end));
  }
  return out;
}
