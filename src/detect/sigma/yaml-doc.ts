import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseAllDocuments } from 'yaml';

/** One YAML document of a rule file: its plain value and where each part of it sits. */
export interface LocatedDoc {
  /** Plain JavaScript value (maps become objects, sequences arrays). */
  value: unknown;
  /** 1-based line where the document starts. */
  line: number;
  /** Line of the node at a path (`['detection', 'sel', 'Image|endswith', 2]`), or the nearest parent's. */
  lineOf(path: ReadonlyArray<string | number>): number;
  /** A YAML syntax error in this document, with its line. */
  error?: { message: string; line: number };
}

/** Whether a parsed YAML value is a map (not a list, not null). */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const SEP = '\u0000';

function keyOf(path: ReadonlyArray<string | number>): string {
  return path.join(SEP);
}

/**
 * Parse a (possibly multi-document) YAML text, keeping line numbers for
 * every map key and sequence item so errors point at the line at fault.
 *
 * Integers too large for a double keep their source text: a rule value such
 * as `0x8000000000000000` must not silently change.
 *
 * @example
 * const [doc] = parseYamlDocs('title: x\ndetection:\n  sel: {a: 1}\n');
 * doc.lineOf(['detection', 'sel']); // 3
 */
export function parseYamlDocs(text: string): LocatedDoc[] {
  const lc = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [docs];
  const out: LocatedDoc[] = [];
  for (const doc of list) {
    const lines = new Map<string, number>();
    const lineAt = (offset: number | undefined) => (offset === undefined ? 0 : lc.linePos(offset).line);
    const contentStart = (doc.contents as Node | null)?.range?.[0];
    const startLine = lineAt(contentStart ?? doc.range?.[0]) || 1;
    const toPlain = (node: unknown, path: Array<string | number>, depth: number): unknown => {
      if (depth > 64) return undefined;
      if (node === null || node === undefined) return null;
      if (isAlias(node)) return toPlain(node.resolve(doc), path, depth + 1);
      if (isScalar(node)) {
        const v = node.value;
        if (typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v)) {
          const src = (node as { source?: string }).source;
          return typeof src === 'string' ? src : v;
        }
        if (v instanceof Date) return (node as { source?: string }).source ?? v.toISOString().slice(0, 10);
        return v;
      }
      if (isMap(node)) {
        const obj: Record<string, unknown> = {};
        for (const pair of node.items) {
          if (!isPair(pair)) continue;
          const k = isScalar(pair.key) ? pair.key.value : pair.key;
          const key = k === null || k === undefined ? '' : String(k);
          const p = [...path, key];
          const n = pair.key as Node | null;
          lines.set(keyOf(p), lineAt(n?.range?.[0]));
          obj[key] = toPlain(pair.value, p, depth + 1);
        }
        return obj;
      }
      if (isSeq(node)) {
        return node.items.map((item, i) => {
          const p = [...path, i];
          lines.set(keyOf(p), lineAt((item as Node | null)?.range?.[0]));
          return toPlain(item, p, depth + 1);
        });
      }
      return null;
    };
    const firstError = doc.errors[0];
    let value: unknown = null;
    if (!firstError) value = toPlain(doc.contents, [], 0);
    out.push(
      locatedDoc(
        value,
        startLine,
        lines,
        firstError
          ? {
              message: firstError.message.split('\n')[0] ?? firstError.message,
              line: lineAt(firstError.pos?.[0]) || startLine,
            }
          : undefined,
      ),
    );
  }
  return out;
}

/** The line of every map key and sequence item of each document, for {@link toStoredDocs}. */
const LINES = new WeakMap<LocatedDoc, ReadonlyMap<string, number>>();

function locatedDoc(
  value: unknown,
  line: number,
  lines: ReadonlyMap<string, number>,
  error?: { message: string; line: number },
): LocatedDoc {
  const located: LocatedDoc = {
    value,
    line,
    lineOf(path) {
      for (let n = path.length; n > 0; n--) {
        const l = lines.get(keyOf(path.slice(0, n)));
        if (l) return l;
      }
      return line;
    },
  };
  if (error) located.error = error;
  LINES.set(located, lines);
  return located;
}

/** A parsed document as JSON can hold it (the parse cache's entries). */
export interface StoredDoc {
  value: unknown;
  line: number;
  /** [path key, line] of every map key and sequence item. */
  lines: Array<[string, number]>;
  error?: { message: string; line: number };
}

/**
 * Whether JSON gives `v` back exactly: finite numbers other than -0, plain
 * objects and arrays, strings, booleans and null. (A YAML `.inf`, or a key
 * `__proto__` that replaced an object's prototype, does not survive.)
 */
export function jsonExact(v: unknown, depth = 0): boolean {
  if (depth > 80) return false;
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v) && !Object.is(v, -0);
  if (Array.isArray(v)) return v.every((x) => jsonExact(x, depth + 1));
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype)
    return Object.values(v as Record<string, unknown>).every((x) => jsonExact(x, depth + 1));
  return false;
}

/** Documents from {@link parseYamlDocs} as JSON-safe data, or undefined when JSON would change them. */
export function toStoredDocs(docs: readonly LocatedDoc[]): StoredDoc[] | undefined {
  const out: StoredDoc[] = [];
  for (const d of docs) {
    const lines = LINES.get(d);
    if (!lines || !jsonExact(d.value)) return undefined;
    out.push({ value: d.value, line: d.line, lines: [...lines], ...(d.error ? { error: d.error } : {}) });
  }
  return out;
}

/** Documents back from {@link toStoredDocs}' data: the same values, lines and errors. */
export function fromStoredDocs(stored: readonly StoredDoc[]): LocatedDoc[] {
  return stored.map((d) => locatedDoc(d.value, d.line, new Map(d.lines), d.error));
}
