import { type QueryClient, useMutation, useQueries, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate, useSearch } from '@tanstack/react-router';
import { type ColumnDef, flexRender, getCoreRowModel, useReactTable } from '@tanstack/react-table';
import { useVirtualizer } from '@tanstack/react-virtual';
import { type FormEvent, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { EntityList } from '../components/entity-list.tsx';
import { PriorityValue, SeverityBadge } from '../components/severity-badge.tsx';
import { Time } from '../components/time.tsx';
import {
  ALERT_STATUSES,
  type AlertFilters,
  apiQuery,
  filtersFromSearch,
  isFiltered,
  NO_FILTERS,
  searchFromFilters,
  streamCanMatch,
} from '../lib/alert-filters.ts';
import { ApiError, api } from '../lib/api.ts';
import { useAuth } from '../lib/auth.tsx';
import { paths } from '../lib/links.ts';
import { parseChange, type StreamState, useStream } from '../lib/stream.ts';
import { type Alert, type Page, SEVERITIES } from '../lib/types.ts';
import './alerts.css';

/** Rows per request: small enough to answer fast, large enough that a fling does not flood the server. */
export const PAGE_SIZE = 100;
const ROW_HEIGHT = 44;
const QUEUE_KEY = 'alert-queue';

interface Row {
  index: number;
  alert: Alert | undefined;
}

/** True when a key press is typing into a field, so it is not a queue shortcut. */
export function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  const tag = target.tagName;
  return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT';
}

/** Applies a change to every cached page of the queue that holds the alert. */
function patchCachedAlert(qc: QueryClient, id: string, patch: (a: Alert) => Alert): boolean {
  let found = false;
  qc.setQueriesData<Page<Alert>>({ queryKey: [QUEUE_KEY] }, (old) => {
    if (!old?.items.some((a) => a.id === id)) return old;
    found = true;
    return { ...old, items: old.items.map((a) => (a.id === id ? patch(a) : a)) };
  });
  return found;
}

const ROW_CLASS: Record<string, string> = {
  severity: 'col-sev',
  priority: 'col-prio',
  title: 'col-title',
  source: 'col-source',
  entities: 'col-entities',
  techniques: 'col-tech',
  status: 'col-status',
  last_seen: 'col-seen',
};

/** On a phone the queue keeps severity, priority, title and status. */
const NARROW = '(max-width: 600px)';
const NARROW_HIDDEN = { source: false, entities: false, techniques: false, last_seen: false };

function useNarrow(): boolean {
  const [narrow, setNarrow] = useState(() => typeof matchMedia === 'function' && matchMedia(NARROW).matches);
  useEffect(() => {
    if (typeof matchMedia !== 'function') return;
    const m = matchMedia(NARROW);
    const on = () => setNarrow(m.matches);
    m.addEventListener('change', on);
    return () => m.removeEventListener('change', on);
  }, []);
  return narrow;
}

export default function Alerts() {
  const search = useSearch({ strict: false }) as Record<string, unknown>;
  // The filters' canonical text: a stable identity for memos and effects, whatever object the router hands out.
  const filterText = JSON.stringify(searchFromFilters(filtersFromSearch(search)));
  const filters = useMemo(() => filtersFromSearch(JSON.parse(filterText)), [filterText]);
  const navigate = useNavigate();
  const qc = useQueryClient();
  const { can, identity } = useAuth();
  const mayAck = can('analyst');

  const setFilters = useCallback(
    (f: AlertFilters) => void navigate({ to: paths.alerts, search: searchFromFilters(f) }),
    [navigate],
  );

  // A new generation drops the cached pages: "N new alerts" refreshes from the top instead of shifting rows.
  const [generation, setGeneration] = useState(0);
  const query = useMemo(() => apiQuery(filters), [filters]);
  const baseKey = useMemo(() => [QUEUE_KEY, query, generation] as const, [query, generation]);

  const scrollRef = useRef<HTMLDivElement>(null);
  const [selected, setSelected] = useState(0);
  const [total, setTotal] = useState<number | null>(null);
  const virtualizer = useVirtualizer({
    count: total ?? 0,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 10,
  });
  const items = virtualizer.getVirtualItems();
  const first = items[0]?.index ?? 0;
  const last = items.at(-1)?.index ?? 0;

  // Pages under the visible rows (page 0 always: it carries the total even when scrolled away).
  const pages = useMemo(() => {
    const set = new Set<number>([0]);
    for (let p = Math.floor(first / PAGE_SIZE); p <= Math.floor(last / PAGE_SIZE); p++) set.add(p);
    return [...set];
  }, [first, last]);

  // Memoised options: useQueries re-subscribes whenever it is handed new ones.
  const queries = useMemo(
    () =>
      pages.map((p) => ({
        queryKey: [...baseKey, p],
        queryFn: ({ signal }: { signal: AbortSignal }) =>
          api<Page<Alert>>('/alerts', {
            query: { ...query, limit: PAGE_SIZE, offset: p * PAGE_SIZE },
            signal,
          }),
        staleTime: Number.POSITIVE_INFINITY,
      })),
    [pages, baseKey, query],
  );
  const results = useQueries({ queries });
  const pageData = new Map<number, Page<Alert>>();
  pages.forEach((p, i) => {
    const d = results[i]?.data;
    if (d) pageData.set(p, d);
  });
  const firstPage = results[0];
  const answeredTotal = firstPage?.data?.total;
  // New filters: back to the top with the new total.
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs when the query (filters or generation) changes
  useEffect(() => {
    setTotal(null);
    setSelected(0);
    scrollRef.current?.scrollTo?.({ top: 0 });
  }, [baseKey]);
  // After the reset above (effects run in order): a filter answered from the cache has its total at once.
  // biome-ignore lint/correctness/useExhaustiveDependencies: also runs when the query changes with the same total
  useEffect(() => {
    if (answeredTotal !== undefined) setTotal(answeredTotal);
  }, [answeredTotal, baseKey]);

  const alertAt = (index: number): Alert | undefined =>
    pageData.get(Math.floor(index / PAGE_SIZE))?.items[index % PAGE_SIZE];

  // --- live updates -------------------------------------------------------------------------------------------
  const [fresh, setFresh] = useState<Set<string>>(() => new Set());
  const [live, setLive] = useState<StreamState>('connecting');
  useStream(
    identity !== null,
    (m) => {
      if (m.event !== 'alert') return;
      const c = parseChange(m);
      if (!c) return;
      const present = patchCachedAlert(qc, c.id, (a) => ({
        ...a,
        status: c.status as Alert['status'],
        severity: c.severity as Alert['severity'],
        priority: c.priority,
        title: c.title,
        updated_at: c.updated_at,
      }));
      if (c.change === 'created' && !present) {
        // Counted only when it could belong to this view (the stream tells severity and status, not the rest).
        const sevOk = !filters.severity.length || filters.severity.includes(c.severity as Alert['severity']);
        const statusOk = !filters.status.length || filters.status.includes(c.status as Alert['status']);
        if (sevOk && statusOk) setFresh((s) => new Set(s).add(c.id));
      }
    },
    (s) => setLive(s),
  );
  const refresh = () => {
    setFresh(new Set());
    setGeneration((g) => g + 1);
  };

  // --- selection and keys -------------------------------------------------------------------------------------
  const [notice, setNotice] = useState<{ text: string; error?: boolean } | null>(null);

  const ack = useMutation({
    mutationFn: (a: Alert) =>
      api<Alert>(`/alerts/${encodeURIComponent(a.id)}`, {
        method: 'PATCH',
        body: { status: 'acknowledged' },
      }),
    onSuccess: (updated) => {
      patchCachedAlert(qc, updated.id, () => updated);
      setNotice({ text: `Acknowledged: ${updated.title}` });
    },
    onError: (e) =>
      setNotice({
        text: e instanceof ApiError ? e.message : 'The alert could not be acknowledged.',
        error: true,
      }),
  });

  const count = total ?? 0;
  const state = useRef({ selected, count, alertAt, mayAck });
  state.current = { selected, count, alertAt, mayAck };

  const move = useCallback(
    (delta: number) => {
      const { selected: s, count: n } = state.current;
      if (!n) return;
      const next = Math.min(n - 1, Math.max(0, s + delta));
      setSelected(next);
      virtualizer.scrollToIndex(next, { align: 'auto' });
    },
    [virtualizer],
  );

  useEffect(() => {
    function onKey(e: KeyboardEvent) {
      if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey || isTyping(e.target)) return;
      const { selected: s, alertAt: at, mayAck: ackOk } = state.current;
      if (e.key === 'j') {
        e.preventDefault();
        move(1);
      } else if (e.key === 'k') {
        e.preventDefault();
        move(-1);
      } else if (e.key === 'Enter') {
        // A focused link or button does its own thing on Enter.
        if (e.target instanceof HTMLElement && e.target.closest('a,button,summary')) return;
        const a = at(s);
        if (a) {
          e.preventDefault();
          void navigate({ to: paths.alert(a.id) });
        }
      } else if (e.key === 'a' && ackOk) {
        const a = at(s);
        if (a && a.status !== 'acknowledged') {
          e.preventDefault();
          ack.mutate(a);
        }
      }
    }
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [move, navigate, ack.mutate]);

  // --- table --------------------------------------------------------------------------------------------------
  const columns = useMemo<ColumnDef<Row>[]>(
    () => [
      {
        id: 'severity',
        header: 'Severity',
        cell: ({ row }) => row.original.alert && <SeverityBadge severity={row.original.alert.severity} />,
      },
      {
        id: 'priority',
        header: 'Priority',
        cell: ({ row }) => row.original.alert && <PriorityValue priority={row.original.alert.priority} />,
      },
      {
        id: 'title',
        header: 'Title',
        cell: ({ row }) => {
          const a = row.original.alert;
          if (!a) return <span className="muted">Loading…</span>;
          return (
            <Link to={paths.alert(a.id)} onFocus={() => setSelected(row.original.index)}>
              {a.title}
            </Link>
          );
        },
      },
      { id: 'source', header: 'Source', cell: ({ row }) => row.original.alert?.source },
      {
        id: 'entities',
        header: 'Entities',
        cell: ({ row }) =>
          row.original.alert && <EntityList entities={row.original.alert.entities} links={false} max={3} />,
      },
      {
        id: 'techniques',
        header: 'Techniques',
        cell: ({ row }) => row.original.alert?.mitre_techniques.join(', '),
      },
      {
        id: 'status',
        header: 'Status',
        cell: ({ row }) =>
          row.original.alert && (
            <span className={`status status-${row.original.alert.status}`}>
              {row.original.alert.status.replace('_', ' ')}
            </span>
          ),
      },
      {
        id: 'last_seen',
        header: 'Last seen',
        cell: ({ row }) => row.original.alert && <Time iso={row.original.alert.last_seen} relative />,
      },
    ],
    [],
  );
  const narrow = useNarrow();
  const rows: Row[] = items.map((v) => ({ index: v.index, alert: alertAt(v.index) }));
  const table = useReactTable({
    data: rows,
    columns,
    getCoreRowModel: getCoreRowModel(),
    getRowId: (r) => String(r.index),
    // The rows change with every scroll; the table must not answer that by resetting (state it does not use).
    manualPagination: true,
    autoResetPageIndex: false,
    // Hidden columns are not rendered at all (not just styled away), so the fixed layout gives their room
    // to the title.
    state: { columnVisibility: narrow ? NARROW_HIDDEN : {} },
  });
  const colSpan = table.getVisibleLeafColumns().length;
  const padTop = items[0]?.start ?? 0;
  const padBottom = items.length ? virtualizer.getTotalSize() - (items.at(-1)?.end ?? 0) : 0;
  const sortedBy = filters.sort === 'time' ? 'last_seen' : 'priority';
  const ariaSort = filters.order === 'asc' ? 'ascending' : 'descending';

  const selectedAlert = alertAt(selected);
  const error = results.find((r) => r.error)?.error;

  return (
    <div className="queue">
      <div className="queue-head">
        <h1>Alerts</h1>
        <p className="muted queue-count" aria-live="polite">
          {total === null ? 'Loading…' : `${total.toLocaleString()} ${total === 1 ? 'alert' : 'alerts'}`}
          {isFiltered(filters) && ' (filtered)'}
          <span className={`live live-${live}`}>
            {live === 'open' ? ' · live' : live === 'retrying' ? ' · reconnecting…' : ''}
          </span>
        </p>
      </div>
      <FilterForm key={filterText} filters={filters} onChange={setFilters} />

      <div className="queue-tools">
        {fresh.size > 0 && (
          <button type="button" onClick={refresh}>
            {streamCanMatch(filters) ? '' : 'Up to '}
            {fresh.size} new {fresh.size === 1 ? 'alert' : 'alerts'}: show
          </button>
        )}
        {mayAck && (
          <button
            type="button"
            className="secondary"
            disabled={!selectedAlert || selectedAlert.status === 'acknowledged' || ack.isPending}
            onClick={() => selectedAlert && ack.mutate(selectedAlert)}
          >
            Acknowledge selected
          </button>
        )}
        <p className="hint keys">
          Keys: <kbd>j</kbd>/<kbd>k</kbd> move, <kbd>Enter</kbd> opens
          {mayAck && (
            <>
              , <kbd>a</kbd> acknowledges
            </>
          )}
        </p>
        <p role="status" className={notice?.error ? 'error' : 'muted'}>
          {notice?.text}
        </p>
      </div>

      {error && (
        <p role="alert" className="error">
          {error instanceof ApiError
            ? `${error.message}${error.field ? ` (${error.field})` : ''}`
            : String(error)}
        </p>
      )}

      <div className="queue-scroll" ref={scrollRef}>
        <table className="queue-table" aria-rowcount={count + 1}>
          <caption className="visually-hidden">
            Alert queue, sorted by {filters.sort === 'time' ? 'last seen' : 'priority'}; press j and k to move
            the selection
          </caption>
          <thead>
            {table.getHeaderGroups().map((hg) => (
              <tr key={hg.id} aria-rowindex={1}>
                {hg.headers.map((h) => (
                  <th
                    key={h.id}
                    scope="col"
                    className={ROW_CLASS[h.column.id]}
                    aria-sort={h.column.id === sortedBy ? ariaSort : undefined}
                  >
                    {flexRender(h.column.columnDef.header, h.getContext())}
                  </th>
                ))}
              </tr>
            ))}
          </thead>
          <tbody>
            {padTop > 0 && (
              <tr className="spacer">
                <td colSpan={colSpan} style={{ height: padTop }} />
              </tr>
            )}
            {table.getRowModel().rows.map((r) => {
              const isSel = r.original.index === selected;
              return (
                <tr
                  key={r.id}
                  aria-rowindex={r.original.index + 2}
                  aria-current={isSel ? 'true' : undefined}
                  data-alert-id={alertAt(r.original.index)?.id}
                  data-severity={alertAt(r.original.index)?.severity}
                  className={isSel ? 'selected' : undefined}
                  style={{ height: ROW_HEIGHT }}
                  onClick={() => setSelected(r.original.index)}
                >
                  {r.getVisibleCells().map((c) => (
                    <td key={c.id} className={ROW_CLASS[c.column.id]}>
                      <div className="cell">{flexRender(c.column.columnDef.cell, c.getContext())}</div>
                    </td>
                  ))}
                </tr>
              );
            })}
            {padBottom > 0 && (
              <tr className="spacer">
                <td colSpan={colSpan} style={{ height: padBottom }} />
              </tr>
            )}
          </tbody>
        </table>
        {total === 0 && <p className="muted empty">No alerts match.</p>}
      </div>
    </div>
  );
}

function FilterForm({ filters, onChange }: { filters: AlertFilters; onChange(f: AlertFilters): void }) {
  // Text fields apply on submit (Enter or Apply); checkboxes and sort apply at once.
  const [text, setText] = useState({
    source: filters.source.join(', '),
    rule: filters.rule,
    technique: filters.technique.join(', '),
    entity: filters.entity,
    q: filters.q,
  });
  const [open] = useState(
    () => typeof matchMedia !== 'function' || matchMedia('(min-width: 700px)').matches || isFiltered(filters),
  );
  const split = (s: string) =>
    s
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean);
  // Any change applies the whole form, so text typed but not yet applied is kept when a box is ticked.
  const withText = (f: AlertFilters): AlertFilters => ({
    ...f,
    source: split(text.source),
    rule: text.rule.trim(),
    technique: split(text.technique).map((t) => t.toUpperCase()),
    entity: text.entity.trim(),
    q: text.q.trim(),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onChange(withText(filters));
  };
  const toggle = <K extends 'severity' | 'status'>(key: K, value: AlertFilters[K][number]) => {
    const cur = filters[key] as string[];
    const next = cur.includes(value) ? cur.filter((v) => v !== value) : [...cur, value];
    onChange(withText({ ...filters, [key]: next }));
  };
  const field = (name: keyof typeof text, label: string, hint?: string) => (
    <div className="field">
      <label htmlFor={`f-${name}`}>{label}</label>
      <input
        id={`f-${name}`}
        name={name}
        value={text[name]}
        placeholder={hint}
        autoComplete="off"
        spellCheck={false}
        onChange={(e) => setText({ ...text, [name]: e.target.value })}
      />
    </div>
  );
  return (
    <details className="filters panel" open={open}>
      <summary>Filters and sort</summary>
      <form onSubmit={submit} aria-label="Alert filters">
        <fieldset>
          <legend>Severity</legend>
          {SEVERITIES.map((s) => (
            <label key={s} className="check">
              <input
                type="checkbox"
                checked={filters.severity.includes(s)}
                onChange={() => toggle('severity', s)}
              />{' '}
              {s}
            </label>
          ))}
        </fieldset>
        <fieldset>
          <legend>Status</legend>
          {ALERT_STATUSES.map((s) => (
            <label key={s} className="check">
              <input
                type="checkbox"
                checked={filters.status.includes(s)}
                onChange={() => toggle('status', s)}
              />{' '}
              {s.replace('_', ' ')}
            </label>
          ))}
        </fieldset>
        <div className="text-filters">
          {field('source', 'Sources', 'cloudtrail, suricata')}
          {field('rule', 'Rule id')}
          {field('technique', 'Techniques', 'T1078, T1059.001')}
          {field('entity', 'Entity', 'user, IP, host…')}
          {field('q', 'Title contains')}
          <div className="field">
            <label htmlFor="f-sort">Sort by</label>
            <select
              id="f-sort"
              value={`${filters.sort}:${filters.order}`}
              onChange={(e) => {
                const [sort, order] = e.target.value.split(':') as [
                  AlertFilters['sort'],
                  AlertFilters['order'],
                ];
                onChange(withText({ ...filters, sort, order }));
              }}
            >
              <option value="priority:desc">Priority, highest first</option>
              <option value="priority:asc">Priority, lowest first</option>
              <option value="time:desc">Last seen, newest first</option>
              <option value="time:asc">Last seen, oldest first</option>
            </select>
          </div>
        </div>
        <div className="actions">
          <button type="submit">Apply</button>
          <button type="button" className="secondary" onClick={() => onChange(NO_FILTERS)}>
            Clear
          </button>
        </div>
      </form>
    </details>
  );
}
