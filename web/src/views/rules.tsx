import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { type KeyboardEvent, useId, useRef, useState } from 'react';
import { ErrorNote } from '../components/b-error.tsx';
import { useSearchParams, useSetSearch } from '../components/b-link.tsx';
import { Pager } from '../components/b-pager.tsx';
import { Severity } from '../components/b-severity.tsx';
import { TableWrap } from '../components/b-table-wrap.tsx';
import { Time } from '../components/b-time.tsx';
import { api } from '../lib/api.ts';
import type { LintState, RuleSummary, SourceInfo } from '../lib/b-types.ts';
import type { DeadLetter, Page } from '../lib/types.ts';
import './rules.css';

const LIMIT = 50;
const TABS = [
  { id: 'rules', label: 'Rules' },
  { id: 'sources', label: 'Sources' },
  { id: 'dead-letters', label: 'Dead letters' },
] as const;
type Tab = (typeof TABS)[number]['id'];

/** Stages that dead-letter inputs (src/): offered as suggestions, the field takes any stage name. */
const STAGES = ['receive', 'normalise', 'load', 'detect', 'triage', 'respond'];

/** Loaded rules with their hits and lint state, sources with their rates, and dead letters with their reasons. */
export default function Rules() {
  const ids = useId();
  const search = useSearchParams();
  const setSearch = useSetSearch();
  const tab: Tab = TABS.some((t) => t.id === search.tab) ? (search.tab as Tab) : 'rules';
  const refs = useRef(new Map<Tab, HTMLButtonElement>());

  function choose(t: Tab, focus = false) {
    setSearch({ tab: t === 'rules' ? undefined : t });
    if (focus) refs.current.get(t)?.focus();
  }
  // The WAI-ARIA tabs pattern: arrows move between tabs, Home and End to the ends.
  function onKey(e: KeyboardEvent) {
    const i = TABS.findIndex((t) => t.id === tab);
    const to =
      e.key === 'ArrowRight'
        ? (i + 1) % TABS.length
        : e.key === 'ArrowLeft'
          ? (i + TABS.length - 1) % TABS.length
          : e.key === 'Home'
            ? 0
            : e.key === 'End'
              ? TABS.length - 1
              : -1;
    if (to < 0) return;
    e.preventDefault();
    choose(TABS[to]!.id, true);
  }

  return (
    <section className="rules" aria-labelledby={`${ids}-h`}>
      <h1 id={`${ids}-h`}>Rules &amp; sources</h1>
      <div role="tablist" aria-label="Rules, sources and dead letters" className="rules-tabs">
        {TABS.map((t) => (
          <button
            key={t.id}
            type="button"
            role="tab"
            id={`${ids}-tab-${t.id}`}
            aria-selected={tab === t.id}
            aria-controls={`${ids}-panel`}
            tabIndex={tab === t.id ? 0 : -1}
            ref={(el) => {
              if (el) refs.current.set(t.id, el);
            }}
            onClick={() => choose(t.id)}
            onKeyDown={onKey}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div
        role="tabpanel"
        id={`${ids}-panel`}
        aria-labelledby={`${ids}-tab-${tab}`}
        // biome-ignore lint/a11y/noNoninteractiveTabindex: the tabs pattern makes the panel a stop after its tab.
        tabIndex={0}
        className="rules-panel"
      >
        {tab === 'rules' && <RuleList />}
        {tab === 'sources' && <SourceList />}
        {tab === 'dead-letters' && <DeadLetters />}
      </div>
    </section>
  );
}

const LINT_TEXT: Record<LintState, string> = { ok: 'OK', warning: 'Warnings', error: 'Errors' };

function RuleList() {
  const ids = useId();
  const [text, setText] = useState('');
  const [q, setQ] = useState('');
  const [offset, setOffset] = useState(0);
  const query = { q: q || undefined, limit: LIMIT, offset };
  const rules = useQuery({
    queryKey: ['rules', query],
    queryFn: ({ signal }) => api<Page<RuleSummary>>('/rules', { query, signal }),
    placeholderData: keepPreviousData,
  });
  return (
    <>
      <h2>Loaded rules</h2>
      <form
        className="b-filters"
        aria-label="Rule search"
        onSubmit={(e) => {
          e.preventDefault();
          setQ(text.trim());
          setOffset(0);
        }}
      >
        <span className="b-field">
          <label htmlFor={`${ids}-q`}>Find rules</label>
          <input
            id={`${ids}-q`}
            type="search"
            value={text}
            maxLength={256}
            placeholder="title, id or technique"
            onChange={(e) => setText(e.target.value)}
          />
        </span>
        <button type="submit">Search</button>
      </form>
      <ErrorNote error={rules.error} />
      {rules.isPending && <p className="loading">Loading rules…</p>}
      {rules.data && (
        <>
          <TableWrap label="Rule list">
            <table aria-busy={rules.isFetching}>
              <caption className="visually-hidden">Loaded rules</caption>
              <thead>
                <tr>
                  <th scope="col">Rule</th>
                  <th scope="col">Engine</th>
                  <th scope="col">Level</th>
                  <th scope="col">Status</th>
                  <th scope="col">Techniques</th>
                  <th scope="col">Hits (24 h)</th>
                  <th scope="col">Lint</th>
                </tr>
              </thead>
              <tbody>
                {rules.data.items.map((r) => (
                  <tr key={r.id}>
                    <td className="b-wrap">
                      {r.title}
                      <br />
                      <code className="muted">{r.id}</code>
                    </td>
                    <td>{r.engine}</td>
                    <td>
                      <Severity value={r.level} />
                    </td>
                    <td>{r.status}</td>
                    <td>
                      {r.techniques.map((t) => (
                        <span key={t} className="b-tag">
                          {t}
                        </span>
                      ))}
                    </td>
                    <td className="num">{r.hits.toLocaleString()}</td>
                    <td>
                      <span className={`rules-lint rules-lint-${r.lint.state}`}>
                        {LINT_TEXT[r.lint.state]}
                      </span>
                      {r.lint.messages.length > 0 && (
                        <ul className="rules-lint-messages">
                          {r.lint.messages.map((m, i) => (
                            // biome-ignore lint/suspicious/noArrayIndexKey: messages are a fixed list per answer; equal texts may repeat.
                            <li key={i} className="b-wrap">
                              {m}
                            </li>
                          ))}
                        </ul>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
          {rules.data.items.length === 0 && <p className="muted">No rule matches.</p>}
          <Pager
            label="Rule pages"
            offset={offset}
            limit={LIMIT}
            total={rules.data.total}
            onChange={setOffset}
          />
        </>
      )}
    </>
  );
}

/** Sources no rule reads and that carry no verdict of their own: their events raise no alert. */
function unwatched(s: SourceInfo): boolean {
  return s.rules === 0 && !s.verdicts;
}

function RuleCount({ source: s }: { source: SourceInfo }) {
  if (s.rules === undefined) return <>—</>;
  if (s.rules > 0) return <>{s.rules.toLocaleString()}</>;
  return (
    <span className={unwatched(s) ? 'rules-none' : undefined}>
      0{unwatched(s) ? ': no rule reads it' : ': its own verdicts only'}
    </span>
  );
}

function SourceList() {
  const sources = useQuery({
    queryKey: ['sources'],
    queryFn: ({ signal }) => api<{ items: SourceInfo[] }>('/sources', { signal }),
  });
  const none = (sources.data?.items ?? []).filter(unwatched);
  return (
    <>
      <h2>Sources</h2>
      <ErrorNote error={sources.error} />
      {sources.isPending && <p className="loading">Loading sources…</p>}
      {none.length > 0 && (
        <p className="rules-unwatched">
          No rule reads{' '}
          {none.map((s, i) => (
            <span key={s.type}>
              {i > 0 && ', '}
              <code>{s.type}</code>
            </span>
          ))}
          , and {none.length === 1 ? 'it carries' : 'they carry'} no verdict of{' '}
          {none.length === 1 ? 'its' : 'their'} own: {none.length === 1 ? 'its' : 'their'} events raise no
          alert.
        </p>
      )}
      {sources.data && (
        <TableWrap label="Source list">
          <table>
            <caption className="visually-hidden">Sources, the rules that read them and their rates</caption>
            <thead>
              <tr>
                <th scope="col">Source</th>
                <th scope="col">Description</th>
                <th scope="col">Rules</th>
                <th scope="col">Events, last hour</th>
                <th scope="col">Per second (5 min)</th>
                <th scope="col">Last event</th>
              </tr>
            </thead>
            <tbody>
              {sources.data.items.map((s) => (
                <tr key={s.type}>
                  <td>
                    <code>{s.type}</code>
                  </td>
                  <td className="b-wrap">{s.description}</td>
                  <td className="num">
                    <RuleCount source={s} />
                  </td>
                  <td className="num">{s.events_last_hour?.toLocaleString() ?? '—'}</td>
                  <td className="num">
                    {s.per_s === undefined
                      ? '—'
                      : s.per_s.toLocaleString(undefined, { maximumFractionDigits: 2 })}
                  </td>
                  <td>
                    <Time iso={s.last_event_at} empty="never" />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
    </>
  );
}

function DeadLetters() {
  const ids = useId();
  const [form, setForm] = useState({ source: '', stage: '' });
  const [filter, setFilter] = useState({ source: '', stage: '' });
  const [offset, setOffset] = useState(0);
  const query = {
    source: filter.source || undefined,
    stage: filter.stage || undefined,
    limit: LIMIT,
    offset,
  };
  const letters = useQuery({
    queryKey: ['dead-letters', query],
    queryFn: ({ signal }) => api<Page<DeadLetter>>('/dead-letters', { query, signal }),
    placeholderData: keepPreviousData,
  });
  const sources = useQuery({
    queryKey: ['sources'],
    queryFn: ({ signal }) => api<{ items: SourceInfo[] }>('/sources', { signal }),
  });
  return (
    <>
      <h2>Dead letters</h2>
      <form
        className="b-filters"
        aria-label="Dead letter filters"
        onSubmit={(e) => {
          e.preventDefault();
          setFilter({ source: form.source.trim(), stage: form.stage.trim() });
          setOffset(0);
        }}
      >
        <span className="b-field">
          <label htmlFor={`${ids}-source`}>Source</label>
          <input
            id={`${ids}-source`}
            list={`${ids}-sources`}
            value={form.source}
            maxLength={64}
            onChange={(e) => setForm({ ...form, source: e.target.value })}
          />
          <datalist id={`${ids}-sources`}>
            {(sources.data?.items ?? []).map((s) => (
              <option key={s.type} value={s.type} />
            ))}
          </datalist>
        </span>
        <span className="b-field">
          <label htmlFor={`${ids}-stage`}>Stage</label>
          <input
            id={`${ids}-stage`}
            list={`${ids}-stages`}
            value={form.stage}
            maxLength={64}
            onChange={(e) => setForm({ ...form, stage: e.target.value })}
          />
          <datalist id={`${ids}-stages`}>
            {STAGES.map((s) => (
              <option key={s} value={s} />
            ))}
          </datalist>
        </span>
        <button type="submit">Filter</button>
      </form>
      <ErrorNote error={letters.error} />
      {letters.isPending && <p className="loading">Loading dead letters…</p>}
      {letters.data && (
        <>
          <TableWrap label="Dead letter list">
            <table aria-busy={letters.isFetching}>
              <caption className="visually-hidden">Dead letters, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Source</th>
                  <th scope="col">Stage</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Record</th>
                </tr>
              </thead>
              <tbody>
                {letters.data.items.map((d) => (
                  <tr key={d.id}>
                    <td>
                      <Time iso={d.at} />
                    </td>
                    <td>{d.source}</td>
                    <td>{d.stage}</td>
                    <td className="b-wrap">
                      <code>{d.code}</code>
                      {d.field && <span className="muted"> (field: {d.field})</span>}
                      <p className="b-pre-text">{d.reason}</p>
                    </td>
                    <td className="rules-record">
                      <details>
                        <summary>Show the record ({d.record.length.toLocaleString()} characters)</summary>
                        <pre>{d.record}</pre>
                      </details>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
          {letters.data.items.length === 0 && <p className="muted">No dead letter.</p>}
          <Pager
            label="Dead letter pages"
            offset={offset}
            limit={LIMIT}
            total={letters.data.total}
            onChange={setOffset}
          />
        </>
      )}
    </>
  );
}
