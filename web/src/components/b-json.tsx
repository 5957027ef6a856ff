import { Fragment, type ReactNode, useEffect, useRef } from 'react';
import './b-ui.css';

/**
 * `a.b[0].c` and `a.b.0.c` name the same field (the analyst's checker writes brackets, people write dots):
 * both become the dotted form before they are compared.
 */
export function canonicalPath(path: string): string {
  return path.trim().replace(/\[(\d+)\]/g, '.$1');
}

/** Every dotted path the value has (objects' keys and arrays' indexes), to tell which cited fields exist. */
function hasPath(value: unknown, path: string): boolean {
  let cur: unknown = value;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return false;
    if (!Object.hasOwn(cur, part)) return false;
    cur = (cur as Record<string, unknown>)[part];
  }
  return true;
}

/** The cited fields that exist in the value and those that do not, in canonical form. */
export function splitFields(
  value: unknown,
  fields: readonly string[],
): { found: string[]; missing: string[] } {
  const found: string[] = [];
  const missing: string[] = [];
  for (const f of fields) {
    const p = canonicalPath(f);
    if (!p) continue;
    (hasPath(value, p) ? found : missing).push(p);
  }
  return { found, missing };
}

const pad = (depth: number) => '  '.repeat(depth);

function scalar(v: unknown): ReactNode {
  if (typeof v === 'string') return <span className="j-str">{JSON.stringify(v)}</span>;
  if (typeof v === 'number' || typeof v === 'boolean' || v === null)
    return <span className={typeof v === 'number' ? 'j-num' : 'j-lit'}>{String(v)}</span>;
  // undefined, functions: not JSON; shown as null the way JSON.stringify shows them in arrays.
  return <span className="j-lit">null</span>;
}

function node(v: unknown, path: string, depth: number, marks: ReadonlySet<string>): ReactNode {
  if (v === null || typeof v !== 'object') return scalar(v);
  const entries: Array<[string, unknown, string | undefined]> = Array.isArray(v)
    ? v.map((x, i) => [String(i), x, undefined])
    : Object.entries(v).map(([k, x]) => [k, x, k]);
  const [open, close] = Array.isArray(v) ? ['[', ']'] : ['{', '}'];
  if (entries.length === 0) return `${open}${close}`;
  return (
    <>
      {open}
      {'\n'}
      {entries.map(([seg, x, key], i) => {
        const p = path ? `${path}.${seg}` : seg;
        const body = (
          <>
            {key !== undefined && (
              <>
                <span className="j-key">{JSON.stringify(key)}</span>
                {': '}
              </>
            )}
            {node(x, p, depth + 1, marks)}
          </>
        );
        return (
          <Fragment key={seg}>
            {pad(depth + 1)}
            {marks.has(p) ? <mark data-path={p}>{body}</mark> : body}
            {i < entries.length - 1 ? ',\n' : '\n'}
          </Fragment>
        );
      })}
      {pad(depth)}
      {close}
    </>
  );
}

/**
 * A JSON value pretty-printed as text, with the given field paths wrapped in `<mark>`. Every string is a
 * React text node: nothing in the value is ever read as HTML. The first mark is scrolled into view.
 */
export function JsonView({
  value,
  highlight = [],
  label,
}: {
  value: unknown;
  highlight?: readonly string[];
  label: string;
}) {
  const ref = useRef<HTMLElement>(null);
  const marks = new Set(highlight.map(canonicalPath));
  const key = [...marks].join('\n');
  useEffect(() => {
    if (!key) return;
    ref.current?.querySelector('mark')?.scrollIntoView?.({ block: 'center' });
  }, [key]);
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard to scroll it.
    <section ref={ref} className="b-json" aria-label={label} tabIndex={0}>
      <pre>{node(value, '', 0, marks)}</pre>
    </section>
  );
}
