import { AisocError } from '../../errors.ts';
import { type FramedRecord, frameBody } from '../framing.ts';

/**
 * Split text holding JSON values written one after another
 * (`{…}\n{…}`, pretty-printed, as evtx dumps and the Sigma regression
 * events are) into the text of each value. Returns undefined when the text
 * is not such a sequence. Linear: one pass tracking strings and depth.
 *
 * @example splitConcatenatedJson('{"a": 1}\n{"b": 2}') // ['{"a": 1}', '{"b": 2}']
 */
export function splitConcatenatedJson(text: string): string[] | undefined {
  const out: string[] = [];
  let depth = 0;
  let inString = false;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      if (depth === 0) return undefined;
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (depth === 0) start = i;
      depth++;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (depth < 0) return undefined;
      if (depth === 0) out.push(text.slice(start, i + 1));
    } else if (depth === 0 && c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) {
      return undefined;
    }
  }
  return depth === 0 && !inString && out.length > 0 ? out : undefined;
}

/**
 * JSON framing (a value, an array, NDJSON) that also accepts JSON objects
 * written one after another, pretty-printed. A body that is neither is
 * refused whole with the JSON framing's error, naming the line.
 *
 * @example frameWindows('{"Event": {…}}\n{"Event": {…}}') // two records
 */
export function frameWindows(text: string): FramedRecord[] {
  try {
    return frameBody(text, 'json');
  } catch (err) {
    if (!(err instanceof AisocError) || err.code !== 'AISOC_ERR_BAD_JSON') throw err;
    const parts = splitConcatenatedJson(text);
    if (!parts) throw err;
    const out: FramedRecord[] = [];
    for (const part of parts) {
      try {
        out.push({ value: JSON.parse(part) });
      } catch {
        throw err;
      }
    }
    return out;
  }
}
