/**
 * JSON text safe for PostgreSQL `jsonb`: PostgreSQL rejects the escape
 * `\u0000` and unpaired UTF-16 surrogates, both of which JSON.stringify can
 * produce from hostile log lines. They become U+FFFD, the replacement
 * character; everything else is unchanged.
 */
export function toPgJson(value: unknown): string {
  const text = JSON.stringify(value) ?? 'null';
  if (!text.includes('\\u0000') && !/\\ud[89a-f]/i.test(text)) return text;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch !== '\\') {
      out += ch;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next !== 'u') {
      out += text.slice(i, i + 2);
      i += 2;
      continue;
    }
    const hex = text.slice(i + 2, i + 6);
    const code = Number.parseInt(hex, 16);
    if (code === 0) {
      out += '\\ufffd';
      i += 6;
      continue;
    }
    if (code >= 0xd800 && code <= 0xdbff) {
      const after = text.slice(i + 6, i + 12);
      const low = after.startsWith('\\u') ? Number.parseInt(after.slice(2), 16) : Number.NaN;
      if (low >= 0xdc00 && low <= 0xdfff) {
        out += text.slice(i, i + 12);
        i += 12;
      } else {
        out += '\\ufffd';
        i += 6;
      }
      continue;
    }
    if (code >= 0xdc00 && code <= 0xdfff) {
      out += '\\ufffd';
      i += 6;
      continue;
    }
    out += text.slice(i, i + 6);
    i += 6;
  }
  return out;
}

/**
 * {@link toPgJson} as a `jsonb` parameter in PostgreSQL's binary format (a
 * version byte, 1, then the JSON text in UTF-8), for a large batch. Both
 * drivers send a buffer parameter as binary, and the server reads it with
 * `jsonb_recv`, the same parser as text; the point is the client side:
 * PGlite measures and encodes a text parameter in JavaScript, character by
 * character (twice), where `Buffer` encodes natively.
 *
 * @example await db.query('SELECT jsonb_array_length($1::jsonb)', [toPgJsonb([1, 2])])
 */
export function toPgJsonb(value: unknown): Buffer {
  const text = toPgJson(value);
  const buf = Buffer.allocUnsafe(1 + Buffer.byteLength(text));
  buf[0] = 1;
  buf.write(text, 1);
  return buf;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what is looked for.
const UNSAFE_TEXT = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why a string cannot be stored as text (a NUL, or a UTF-16 surrogate without its pair), else undefined. */
export function unsafeTextProblem(s: string): string | undefined {
  const m = UNSAFE_TEXT.exec(s);
  if (!m) return undefined;
  return m[0] === '\u0000' ? 'contains a NUL character' : 'contains invalid Unicode (a lone surrogate)';
}

/**
 * The first place in a value (strings, array elements, object keys and
 * values, walked depth first) holding text PostgreSQL refuses or that is not
 * valid Unicode, as a dotted path under `path`, with the problem; undefined
 * when there is none. Records people act on (action requests, approvals)
 * are refused with this instead of being silently repaired: a stored reason
 * must say what its author wrote.
 *
 * @example findUnsafeText({ note: 'a\u0000b' }, 'input') // { field: 'input.note', problem: 'contains a NUL character' }
 */
export function findUnsafeText(value: unknown, path: string): { field: string; problem: string } | undefined {
  if (typeof value === 'string') {
    const problem = unsafeTextProblem(value);
    return problem ? { field: path, problem } : undefined;
  }
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) {
      const found = findUnsafeText(v, `${path}[${i}]`);
      if (found) return found;
    }
    return undefined;
  }
  if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      const keyProblem = unsafeTextProblem(k);
      const field = `${path}.${keyProblem ? JSON.stringify(k).slice(1, -1) : k}`;
      if (keyProblem) return { field, problem: `is a key that ${keyProblem}` };
      const found = findUnsafeText(v, field);
      if (found) return found;
    }
  }
  return undefined;
}

/** Text for a PostgreSQL `text` column: NUL and lone surrogates become U+FFFD (what {@link toPgJson} does for jsonb). */
export function toPgText(s: string): string {
  if (!UNSAFE_TEXT.test(s)) return s;
  return s.replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what is replaced.
    /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g,
    '\uFFFD',
  );
}
