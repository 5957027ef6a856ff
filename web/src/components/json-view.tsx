import './widgets.css';
import { Fragment, type ReactNode, useEffect, useMemo, useRef } from 'react';

/**
 * A JSON document as indented text, with the cited field paths wrapped in <mark>. Everything is rendered as
 * React text nodes — event content is attacker-controlled data and never becomes markup.
 *
 * Paths are dot-separated (`cloud.operation`, `actor.user.name`); array items are `items.0` or `items[0]`;
 * a key that itself holds dots (`raw["aws.region"]` or `raw.aws.region`) matches either way, since paths are
 * compared as joined strings.
 */

/** `a[0].b["c.d"]` → `a.0.b.c.d`; a leading `$.` (JSONPath) is dropped. */
export function normalisePath(p: string): string {
  return p
    .trim()
    .replace(/^\$\.?/, '')
    .replace(/\[\s*(\d+)\s*\]/g, '.$1')
    .replace(/\[\s*["']([^"']*)["']\s*\]/g, '.$1')
    .replace(/^\./, '');
}

/** Which of `paths` exist in `doc` (as a full path to a value). */
export function presentPaths(doc: unknown, paths: readonly string[]): Set<string> {
  const wanted = new Set(paths.map(normalisePath));
  const found = new Set<string>();
  const walk = (v: unknown, path: string) => {
    if (path && wanted.has(path)) found.add(path);
    if (v && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) walk(child, path ? `${path}.${k}` : k);
    }
  };
  walk(doc, '');
  return found;
}

const INDENT = '  ';

function render(value: unknown, path: string, depth: number, marks: ReadonlySet<string>): ReactNode {
  if (value === null || typeof value !== 'object') {
    const text = value === undefined ? 'null' : JSON.stringify(value);
    return <span className={`json-${value === null ? 'null' : typeof value}`}>{text}</span>;
  }
  const isArray = Array.isArray(value);
  const entries: Array<[string, unknown]> = isArray
    ? (value as unknown[]).map((v, i) => [String(i), v])
    : Object.entries(value as Record<string, unknown>);
  const [open, close] = isArray ? ['[', ']'] : ['{', '}'];
  if (!entries.length) return `${open}${close}`;
  const pad = INDENT.repeat(depth + 1);
  return (
    <>
      {open}
      {'\n'}
      {entries.map(([k, v], i) => {
        const childPath = path ? `${path}.${k}` : k;
        const body = (
          <>
            {!isArray && <span className="json-key">{JSON.stringify(k)}</span>}
            {!isArray && ': '}
            {render(v, childPath, depth + 1, marks)}
          </>
        );
        return (
          <Fragment key={k}>
            {pad}
            {marks.has(childPath) ? (
              <mark data-path={childPath} title={`Cited field ${childPath}`}>
                {body}
              </mark>
            ) : (
              body
            )}
            {i < entries.length - 1 ? ',' : ''}
            {'\n'}
          </Fragment>
        );
      })}
      {INDENT.repeat(depth)}
      {close}
    </>
  );
}

export interface JsonViewProps {
  value: unknown;
  /** Field paths to mark. */
  highlight?: readonly string[];
  /** Accessible name of the region, e.g. "Event 1234 as JSON". */
  label: string;
}

export function JsonView({ value, highlight = [], label }: JsonViewProps) {
  const marks = useMemo(() => new Set(highlight.map(normalisePath)), [highlight]);
  const tree = useMemo(() => render(value, '', 0, marks), [value, marks]);
  const ref = useRef<HTMLPreElement>(null);
  useEffect(() => {
    // Bring the first cited field into view when the citation changes.
    if (!marks.size) return;
    const first = ref.current?.querySelector('mark');
    if (first && typeof first.scrollIntoView === 'function') first.scrollIntoView({ block: 'nearest' });
  }, [marks]);
  return (
    <section aria-label={label} className="json-view">
      {/* A scrollable region must be reachable by keyboard (axe: scrollable-region-focusable). */}
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: the block scrolls, so it takes focus to scroll by keys */}
      <pre ref={ref} tabIndex={0}>
        <code>{tree}</code>
      </pre>
    </section>
  );
}
