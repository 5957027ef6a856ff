/**
 * RFC 5424 STRUCTURED-DATA: `-` or one or more
 * `[SD-ID PARAM="value" …]` elements. Inside a value `\"`, `\\` and `\]`
 * are escapes; a backslash before any other character is kept as it is
 * (RFC 5424 §6.3.3).
 */

/** SD-ID → PARAM-NAME → value (an array when a name repeats within an element). */
export type StructuredData = Record<string, Record<string, string | string[]>>;

export interface SdResult {
  data: StructuredData;
  /** The text after the structured data (the MSG, with its leading space). */
  rest: string;
}

export class SdError extends Error {}

// SD-NAME: printable US-ASCII except `=`, space, `]` and `"`; at most 32 characters.
const NAME_CHAR = /[!#-<>-\\^-~]/;

function readName(s: string, i: number, what: string): [string, number] {
  let j = i;
  while (j < s.length && NAME_CHAR.test(s[j]!)) j++;
  if (j === i) throw new SdError(`expected ${what} at offset ${i}`);
  if (j - i > 32) throw new SdError(`${what} longer than 32 characters at offset ${i}`);
  return [s.slice(i, j), j];
}

/**
 * Parse the structured data at the start of `s`.
 *
 * @example
 * parseStructuredData('[origin ip="192.0.2.1"][meta seq="7"] hello')
 * // { data: { origin: { ip: '192.0.2.1' }, meta: { seq: '7' } }, rest: ' hello' }
 */
export function parseStructuredData(s: string): SdResult {
  if (s.startsWith('-')) return { data: {}, rest: s.slice(1) };
  if (!s.startsWith('[')) throw new SdError('expected "-" or "[" where structured data begins');
  const data: StructuredData = {};
  let i = 0;
  while (s[i] === '[') {
    let id: string;
    [id, i] = readName(s, i + 1, 'SD-ID');
    const params = data[id] ?? {};
    data[id] = params;
    while (s[i] === ' ') {
      let name: string;
      [name, i] = readName(s, i + 1, 'PARAM-NAME');
      if (s[i] !== '=' || s[i + 1] !== '"') throw new SdError(`expected ="value" after ${name}`);
      i += 2;
      let value = '';
      for (;;) {
        const c = s[i];
        if (c === undefined) throw new SdError(`unterminated value of ${id}.${name}`);
        if (c === '"') break;
        if (c === '\\' && (s[i + 1] === '"' || s[i + 1] === '\\' || s[i + 1] === ']')) {
          value += s[i + 1];
          i += 2;
          continue;
        }
        value += c;
        i++;
      }
      i++;
      const prev = params[name];
      params[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
    }
    if (s[i] !== ']') throw new SdError(`expected "]" to close [${id} at offset ${i}`);
    i++;
  }
  return { data, rest: s.slice(i) };
}
