/**
 * Split text holding JSON values one after another (pretty-printed objects
 * concatenated, as EVTX-to-JSON converters write them) into the values.
 * NDJSON and a single value are special cases. Returns undefined when the
 * text is not such a sequence, so callers can report the file as unreadable.
 *
 * @example splitJsonValues('{"a":1}\n{\n  "b": 2\n}') // [{ a: 1 }, { b: 2 }]
 */
export function splitJsonValues(text: string): unknown[] | undefined {
  const out: unknown[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && /\s/.test(text[i]!)) i++;
    if (i >= n) break;
    const start = i;
    const open = text[i];
    if (open !== '{' && open !== '[') return undefined;
    let depth = 0;
    let inString = false;
    for (; i < n; i++) {
      const c = text[i];
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
        continue;
      }
      if (c === '"') inString = true;
      else if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        depth--;
        if (depth === 0) {
          i++;
          break;
        }
      }
    }
    if (depth !== 0) return undefined;
    try {
      out.push(JSON.parse(text.slice(start, i)));
    } catch {
      return undefined;
    }
  }
  return out;
}
