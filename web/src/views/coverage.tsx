import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { type RefObject, useId, useMemo, useRef, useState } from 'react';
import { ErrorNote } from '../components/b-error.tsx';
import { pathTo, ViewLink } from '../components/b-link.tsx';
import { Severity } from '../components/b-severity.tsx';
import { TableWrap } from '../components/b-table-wrap.tsx';
import { Time } from '../components/b-time.tsx';
import { type RangeId, RangeSelect, rangeOf } from '../components/b-time-range.tsx';
import { api } from '../lib/api.ts';
import {
  attackUrl,
  type Coverage as CoverageData,
  type CoverageDetail,
  type CoverageTechnique,
  TECHNIQUE_ID,
} from '../lib/b-types.ts';
import './coverage.css';

type Mode = 'rules' | 'alerts';

/** Colour steps: the count is always printed in the cell, the colour only repeats it. */
const STEPS: Record<Mode, Array<{ min: number; label: string }>> = {
  rules: [
    { min: 0, label: 'No rule' },
    { min: 1, label: '1 rule' },
    { min: 2, label: '2–3 rules' },
    { min: 4, label: '4 or more rules' },
  ],
  alerts: [
    { min: 0, label: 'No detection' },
    { min: 1, label: '1–9 detections' },
    { min: 10, label: '10–99 detections' },
    { min: 100, label: '100 or more detections' },
  ],
};

function step(mode: Mode, n: number): number {
  const steps = STEPS[mode];
  let s = 0;
  for (let i = 0; i < steps.length; i++) if (n >= steps[i]!.min) s = i;
  return s;
}

const unit = (mode: Mode, n: number) =>
  mode === 'rules' ? (n === 1 ? 'rule' : 'rules') : n === 1 ? 'detection' : 'detections';

/**
 * The ATT&CK Enterprise matrix: tactics as columns, their techniques as cells coloured by the rules loaded
 * for each, or by the detections in a time range. A cell is a button: it loads the rules and alerts behind it.
 */
export default function Coverage() {
  const ids = useId();
  const [mode, setMode] = useState<Mode>('rules');
  const [rangeId, setRangeId] = useState<RangeId>('7d');
  // The range is fixed when chosen: "last 7 days" recomputed at each render would be a new query each time.
  const [range, setRange] = useState(() => rangeOf('7d'));
  const [filter, setFilter] = useState('');
  const [selected, setSelected] = useState<string | null>(null);
  const cellRefs = useRef(new Map<string, HTMLButtonElement>());
  const detailHeading = useRef<HTMLHeadingElement>(null);

  const coverage = useQuery({
    queryKey: ['coverage', range],
    queryFn: ({ signal }) => api<CoverageData>('/coverage', { query: range, signal }),
    placeholderData: keepPreviousData,
  });

  const columns = useMemo(() => {
    const data = coverage.data;
    if (!data) return [];
    const f = filter.trim().toLowerCase();
    const match = (t: CoverageTechnique) =>
      !f ||
      t.id.toLowerCase().includes(f) ||
      t.name.toLowerCase().includes(f) ||
      (t.subtechniques ?? []).some((s) => s.id.toLowerCase().includes(f) || s.name.toLowerCase().includes(f));
    return data.tactics.map((tactic) => ({
      tactic,
      techniques: data.techniques
        .filter((t) => t.tactics.includes(tactic.shortname) && match(t))
        .sort((a, b) => a.name.localeCompare(b.name)),
    }));
  }, [coverage.data, filter]);

  const totals = useMemo(() => {
    const t = coverage.data?.techniques ?? [];
    return { all: t.length, withRules: t.filter((x) => x.rules > 0).length };
  }, [coverage.data]);

  function select(id: string) {
    setSelected(id);
    // Focus follows the choice to the detail, as a master–detail page does; "Back" returns to the cell.
    requestAnimationFrame(() => detailHeading.current?.focus());
  }

  return (
    <section className="coverage" aria-labelledby={`${ids}-h`}>
      <h1 id={`${ids}-h`}>ATT&amp;CK coverage</h1>
      {coverage.data && (
        <p className="muted">
          {totals.withRules} of {totals.all} Enterprise techniques have at least one loaded rule.
        </p>
      )}
      <form className="b-filters" aria-label="Matrix options" onSubmit={(e) => e.preventDefault()}>
        <fieldset className="cov-mode">
          <legend>Colour cells by</legend>
          {(['rules', 'alerts'] as const).map((m) => (
            <span key={m}>
              <input
                type="radio"
                id={`${ids}-mode-${m}`}
                name={`${ids}-mode`}
                checked={mode === m}
                onChange={() => setMode(m)}
              />
              <label htmlFor={`${ids}-mode-${m}`}>
                {m === 'rules' ? 'Rules loaded' : 'Detections in the time range'}
              </label>
            </span>
          ))}
        </fieldset>
        <RangeSelect
          id={`${ids}-range`}
          label="Detections in"
          value={rangeId}
          onChange={(r) => {
            setRangeId(r);
            setRange(rangeOf(r));
          }}
        />
        <span className="b-field">
          <label htmlFor={`${ids}-filter`}>Find a technique</label>
          <input
            id={`${ids}-filter`}
            type="search"
            value={filter}
            placeholder="T1078 or Valid Accounts"
            onChange={(e) => setFilter(e.target.value)}
          />
        </span>
      </form>
      <Legend mode={mode} />
      <ErrorNote error={coverage.error} />
      {coverage.isPending && <p className="loading">Loading the matrix…</p>}
      <div className="cov-layout">
        {coverage.data && (
          // biome-ignore lint/a11y/noNoninteractiveTabindex: the matrix scrolls sideways; the keyboard must reach it to scroll.
          <section className="cov-matrix" aria-labelledby={`${ids}-matrix`} tabIndex={0}>
            <h2 id={`${ids}-matrix`} className="visually-hidden">
              Matrix
            </h2>
            {columns.map(({ tactic, techniques }) => (
              <section key={tactic.id} className="cov-col" aria-labelledby={`${ids}-${tactic.id}`}>
                <h3 id={`${ids}-${tactic.id}`}>
                  {tactic.name}
                  <span className="cov-col-count">
                    {techniques.length} technique{techniques.length === 1 ? '' : 's'}
                  </span>
                </h3>
                <ul>
                  {techniques.map((t) => {
                    const n = mode === 'rules' ? t.rules : t.alerts;
                    return (
                      <li key={t.id}>
                        <button
                          type="button"
                          ref={(el) => {
                            // A technique under several tactics: the first cell is where "Back" returns.
                            if (el && !cellRefs.current.get(t.id)?.isConnected)
                              cellRefs.current.set(t.id, el);
                          }}
                          className={`cov-cell cov-step-${step(mode, n)}`}
                          aria-pressed={selected === t.id}
                          onClick={() => select(t.id)}
                        >
                          <span className="cov-name">{t.name}</span>
                          <span className="cov-id">{t.id}</span>
                          <span className="cov-count">
                            {n} {unit(mode, n)}
                          </span>
                        </button>
                      </li>
                    );
                  })}
                </ul>
              </section>
            ))}
          </section>
        )}
        {selected && (
          <Detail
            id={selected}
            range={range}
            headingRef={detailHeading}
            onSelect={select}
            onBack={() => {
              const el = cellRefs.current.get(selected.split('.')[0] ?? selected);
              el?.focus();
              el?.scrollIntoView?.({ block: 'nearest', inline: 'nearest' });
            }}
            parent={coverage.data?.techniques.find((t) => t.id === selected.split('.')[0])}
          />
        )}
      </div>
    </section>
  );
}

function Legend({ mode }: { mode: Mode }) {
  return (
    <section className="cov-legend" aria-label="Legend">
      <h2 className="visually-hidden">Legend</h2>
      <ul>
        {STEPS[mode].map((s, i) => (
          <li key={s.label}>
            <span className={`cov-swatch cov-step-${i}`} aria-hidden="true" />
            {s.label}
          </li>
        ))}
      </ul>
    </section>
  );
}

function Detail({
  id,
  range,
  headingRef,
  onSelect,
  onBack,
  parent,
}: {
  id: string;
  range: { from: string; to: string };
  headingRef: RefObject<HTMLHeadingElement | null>;
  onSelect: (id: string) => void;
  onBack: () => void;
  parent: CoverageTechnique | undefined;
}) {
  const valid = TECHNIQUE_ID.test(id);
  const detail = useQuery({
    queryKey: ['coverage', id, range],
    queryFn: ({ signal }) =>
      api<CoverageDetail>(`/coverage/${encodeURIComponent(id)}`, { query: range, signal }),
    enabled: valid,
  });
  const url = attackUrl(id);
  const name = detail.data?.technique.name ?? (parent?.id === id ? parent.name : undefined);
  const subs = parent?.subtechniques ?? [];

  return (
    <section className="cov-detail panel" aria-labelledby="cov-detail-h" aria-busy={detail.isFetching}>
      <h2 id="cov-detail-h" ref={headingRef} tabIndex={-1}>
        {id}
        {name ? ` ${name}` : ''}
      </h2>
      <div className="b-actions">
        <button type="button" className="secondary" onClick={onBack}>
          Back to the matrix
        </button>
        {url && (
          <a href={url} target="_blank" rel="noopener noreferrer">
            {id} on attack.mitre.org
          </a>
        )}
      </div>
      {!valid && <p className="error">This is not an ATT&amp;CK technique id: nothing to look up.</p>}
      <ErrorNote error={detail.error} />
      {detail.isPending && valid && <p className="loading">Loading the rules and alerts…</p>}
      {detail.data?.technique.description && (
        <p className="b-pre-text cov-description">{detail.data.technique.description}</p>
      )}
      {subs.length > 0 && (
        <>
          <h3>Sub-techniques</h3>
          <ul className="cov-subs">
            {parent && parent.id !== id && (
              <li>
                <button type="button" className="secondary" onClick={() => onSelect(parent.id)}>
                  {parent.id} {parent.name} (parent)
                </button>
              </li>
            )}
            {subs.map((s) => (
              <li key={s.id}>
                <button
                  type="button"
                  className="secondary"
                  aria-pressed={s.id === id}
                  onClick={() => onSelect(s.id)}
                >
                  {s.id} {s.name}: {s.rules} {s.rules === 1 ? 'rule' : 'rules'}, {s.alerts}{' '}
                  {s.alerts === 1 ? 'detection' : 'detections'}
                </button>
              </li>
            ))}
          </ul>
        </>
      )}
      {detail.data && (
        <>
          <h3>Rules ({detail.data.rules.length})</h3>
          {detail.data.rules.length === 0 ? (
            <p className="muted">No loaded rule is tagged with this technique.</p>
          ) : (
            <TableWrap label="Rules of the technique">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Rule</th>
                    <th scope="col">Level</th>
                    <th scope="col">Status</th>
                  </tr>
                </thead>
                <tbody>
                  {detail.data.rules.map((r) => (
                    <tr key={r.id}>
                      <td className="b-wrap">
                        {r.title}
                        <br />
                        <code className="muted">{r.id}</code>
                      </td>
                      <td>
                        <Severity value={r.level} />
                      </td>
                      <td>{r.status}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
          )}
          <h3>Alerts in the range ({detail.data.alerts.length})</h3>
          {detail.data.alerts.length === 0 ? (
            <p className="muted">No alert carried this technique in the range.</p>
          ) : (
            <TableWrap label="Alerts of the technique">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Severity</th>
                    <th scope="col">Alert</th>
                    <th scope="col">Last seen</th>
                  </tr>
                </thead>
                <tbody>
                  {detail.data.alerts.map((a) => (
                    <tr key={a.id}>
                      <td>
                        <Severity value={a.severity} />
                      </td>
                      <td className="b-wrap">
                        <ViewLink to={pathTo('/alerts', a.id)}>{a.title}</ViewLink>
                      </td>
                      <td>
                        <Time iso={a.last_seen} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
          )}
        </>
      )}
    </section>
  );
}
