import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { type FormEvent, useId, useState } from 'react';
import { errorText } from '../components/b-error.tsx';
import { pathTo, useSearchParams, useSetSearch, ViewLink } from '../components/b-link.tsx';
import { Pager } from '../components/b-pager.tsx';
import { TableWrap } from '../components/b-table-wrap.tsx';
import { Time } from '../components/b-time.tsx';
import { isoFromLocal, localFromIso, RANGES } from '../components/b-time-range.tsx';
import { ApiError, api } from '../lib/api.ts';
import type { SourceInfo } from '../lib/b-types.ts';
import type { NormalisedEvent, Page } from '../lib/types.ts';
import './events.css';

const LIMIT = 50;
/** The filters GET /events takes, in the order the form shows them; each is also a search parameter. */
const FILTERS = ['source', 'user', 'ip', 'host', 'q', 'from', 'to'] as const;
type Filter = (typeof FILTERS)[number];
type Filters = Partial<Record<Filter, string>>;

/** The form field a server validation error names (`querystring.ip` → `ip`), if it is one of ours. */
function fieldOf(error: unknown): Filter | undefined {
  if (!(error instanceof ApiError) || !error.field) return undefined;
  const name = error.field.replace(/^querystring\./, '').split('.')[0];
  return (FILTERS as readonly string[]).includes(name ?? '') ? (name as Filter) : undefined;
}

const short = (s: string | undefined, n = 160) => (s && s.length > n ? `${s.slice(0, n)}…` : s);

/** Events by source, time, address (or CIDR block), user, host and free text, newest first, a page at a time. */
export default function Events() {
  const search = useSearchParams();
  const setSearch = useSetSearch();
  const applied: Filters = {};
  for (const f of FILTERS) if (search[f]) applied[f] = search[f];
  const offset = Math.max(0, Number.parseInt(search.offset ?? '0', 10) || 0);
  const query = { ...applied, limit: LIMIT, offset };

  const events = useQuery({
    queryKey: ['events', query],
    queryFn: ({ signal }) => api<Page<NormalisedEvent>>('/events', { query, signal }),
    placeholderData: keepPreviousData,
  });
  const sources = useQuery({
    queryKey: ['sources'],
    queryFn: ({ signal }) => api<{ items: SourceInfo[] }>('/sources', { signal }),
    staleTime: 60_000,
  });

  return (
    <section className="events" aria-labelledby="events-h">
      <h1 id="events-h">Events</h1>
      <SearchForm
        // A new search in the URL (back, forward, a link) starts the form again from it.
        key={JSON.stringify(applied)}
        initial={applied}
        sources={sources.data?.items.map((s) => s.type) ?? []}
        error={events.error}
        onSearch={(f) => setSearch({ ...f }, true)}
      />
      {events.isPending && !events.error && <p className="loading">Searching…</p>}
      {events.data && !events.error && (
        <>
          <p className="muted" aria-live="polite">
            {events.data.total.toLocaleString()} event{events.data.total === 1 ? '' : 's'}
          </p>
          <TableWrap label="Event list">
            <table aria-busy={events.isFetching}>
              <caption className="visually-hidden">Events, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Event</th>
                  <th scope="col">Source</th>
                  <th scope="col">User</th>
                  <th scope="col">Addresses</th>
                  <th scope="col" className="hide-narrow">
                    Host
                  </th>
                  <th scope="col" className="hide-narrow">
                    Message
                  </th>
                </tr>
              </thead>
              <tbody>
                {events.data.items.map((e) => (
                  <tr key={e.id}>
                    <td>
                      <Time iso={e.time} />
                    </td>
                    <td className="b-wrap">
                      <ViewLink to={pathTo('/events', e.id)}>{e.activity_name ?? e.class_name}</ViewLink>
                      {e.status === 'failure' && <span className="b-tag">failure</span>}
                    </td>
                    <td>{e.source}</td>
                    <td className="b-wrap">{e.actor?.user?.name ?? ''}</td>
                    <td className="b-wrap">
                      {[e.src_endpoint?.ip, e.dst_endpoint?.ip].filter(Boolean).join(' → ')}
                    </td>
                    <td className="hide-narrow b-wrap">
                      {e.device?.hostname ?? e.src_endpoint?.hostname ?? ''}
                    </td>
                    <td className="hide-narrow b-wrap">{short(e.message)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
          {events.data.items.length === 0 && <p className="muted">No event matches.</p>}
          <Pager
            label="Event pages"
            offset={offset}
            limit={LIMIT}
            total={events.data.total}
            onChange={(o) => setSearch({ ...applied, offset: o || undefined })}
          />
        </>
      )}
    </section>
  );
}

const LABELS: Record<
  Exclude<Filter, 'from' | 'to'>,
  { label: string; placeholder?: string; hint?: string }
> = {
  source: { label: 'Source', placeholder: 'cloudtrail' },
  user: { label: 'User', placeholder: 'alice', hint: 'Whole name, any case' },
  ip: { label: 'IP or CIDR', placeholder: '203.0.113.0/24', hint: 'Source or destination' },
  host: { label: 'Host', placeholder: 'web-01', hint: 'Whole name, any case' },
  q: { label: 'Text', placeholder: 'CreateAccessKey or "a phrase"', hint: 'Every word must match' },
};

function SearchForm({
  initial,
  sources,
  error,
  onSearch,
}: {
  initial: Filters;
  sources: string[];
  error: unknown;
  onSearch: (f: Filters) => void;
}) {
  const ids = useId();
  const [values, setValues] = useState<Filters>(() => ({
    ...initial,
    from: localFromIso(initial.from),
    to: localFromIso(initial.to),
  }));
  const [preset, setPreset] = useState<string>(initial.from || initial.to ? 'custom' : 'any');
  const bad = fieldOf(error);
  const set = (f: Filter, v: string) => setValues((old) => ({ ...old, [f]: v }));

  function submit(e: FormEvent) {
    e.preventDefault();
    const out: Filters = {};
    for (const f of ['source', 'user', 'ip', 'host', 'q'] as const) {
      const v = values[f]?.trim();
      if (v) out[f] = v;
    }
    const r = RANGES.find((x) => x.id === preset);
    if (r) {
      const now = Date.now();
      out.from = new Date(now - r.ms).toISOString();
    } else if (preset === 'custom') {
      out.from = isoFromLocal(values.from ?? '');
      out.to = isoFromLocal(values.to ?? '');
    }
    onSearch(out);
  }

  const field = (f: Exclude<Filter, 'from' | 'to'>, type = 'text') => {
    const { label, placeholder, hint } = LABELS[f];
    const describedBy = [hint ? `${ids}-${f}-hint` : '', bad === f ? `${ids}-${f}-err` : '']
      .filter(Boolean)
      .join(' ');
    return (
      <span className="b-field" key={f}>
        <label htmlFor={`${ids}-${f}`}>{label}</label>
        <input
          id={`${ids}-${f}`}
          name={f}
          type={type}
          value={values[f] ?? ''}
          placeholder={placeholder}
          spellCheck={false}
          list={f === 'source' ? `${ids}-sources` : undefined}
          aria-invalid={bad === f}
          aria-describedby={describedBy || undefined}
          onChange={(e) => set(f, e.target.value)}
        />
        {hint && (
          <span id={`${ids}-${f}-hint`} className="hint events-hint">
            {hint}
          </span>
        )}
        {bad === f && (
          <span id={`${ids}-${f}-err`} className="error events-hint">
            {error instanceof Error ? error.message : ''}
          </span>
        )}
      </span>
    );
  };

  return (
    <form className="b-filters events-form" aria-label="Event search" onSubmit={submit} noValidate>
      {field('source')}
      <datalist id={`${ids}-sources`}>
        {sources.map((s) => (
          <option key={s} value={s} />
        ))}
      </datalist>
      {field('user')}
      {field('ip')}
      {field('host')}
      {field('q', 'search')}
      <span className="b-field">
        <label htmlFor={`${ids}-when`}>Time</label>
        <select id={`${ids}-when`} value={preset} onChange={(e) => setPreset(e.target.value)}>
          <option value="any">Any time</option>
          {RANGES.map((r) => (
            <option key={r.id} value={r.id}>
              {r.label}
            </option>
          ))}
          <option value="custom">Between…</option>
        </select>
      </span>
      {preset === 'custom' &&
        (['from', 'to'] as const).map((f) => (
          <span className="b-field" key={f}>
            <label htmlFor={`${ids}-${f}`}>{f === 'from' ? 'From' : 'To'}</label>
            <input
              id={`${ids}-${f}`}
              type="datetime-local"
              value={values[f] ?? ''}
              aria-invalid={bad === f}
              onChange={(e) => set(f, e.target.value)}
            />
          </span>
        ))}
      <span className="b-actions">
        <button type="submit">Search</button>
        <button
          type="button"
          className="secondary"
          onClick={() => {
            setValues({});
            setPreset('any');
            onSearch({});
          }}
        >
          Clear
        </button>
      </span>
      {error ? (
        <p role="alert" className="error events-error">
          {errorText(error)}
        </p>
      ) : null}
    </form>
  );
}
