import { useInfiniteQuery } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { ErrorNote } from '../components/b-error.tsx';
import { pathTo, ViewLink } from '../components/b-link.tsx';
import { TableWrap } from '../components/b-table-wrap.tsx';
import { Time } from '../components/b-time.tsx';
import { api } from '../lib/api.ts';
import { useAuth } from '../lib/auth.tsx';
import { type AuditFetch, type AuditFilters, readBackwards } from '../lib/b-audit.ts';
import type { AuditPage } from '../lib/b-types.ts';
import type { AuditEntry } from '../lib/types.ts';
import './audit.css';

const PAGE = 100;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Where a target opens in the console, for the record types that have a page. */
const TARGET_PAGE: Record<string, string> = {
  case: '/cases',
  alert: '/alerts',
  incident: '/incidents',
  event: '/events',
};

/** The audit trail, newest first: who did what, to what, why and when. The route needs an admin key. */
export default function Audit() {
  const { can } = useAuth();
  return (
    <section aria-labelledby="audit-h" className="audit">
      <h1 id="audit-h">Audit trail</h1>
      {can('admin') ? (
        <Trail />
      ) : (
        <p role="note" className="muted">
          The audit trail names people and keys: reading it needs an admin key.
        </p>
      )}
    </section>
  );
}

interface Form {
  action: string;
  target_type: string;
  target_id: string;
  actor: string;
}

const EMPTY: Form = { action: '', target_type: '', target_id: '', actor: '' };

function Trail() {
  const ids = useId();
  const [form, setForm] = useState<Form>(EMPTY);
  const [applied, setApplied] = useState<Form>(EMPTY);
  const filters: AuditFilters = {
    action: applied.action || undefined,
    target_type: applied.target_type || undefined,
    target_id: applied.target_id || undefined,
  };
  const actor = applied.actor.toLowerCase();
  const fetchPage: AuditFetch = (q) => api<AuditPage>('/audit', { query: { ...q } });

  const trail = useInfiniteQuery({
    queryKey: ['audit', filters, actor],
    initialPageParam: undefined as number | undefined,
    queryFn: ({ pageParam }) =>
      readBackwards(fetchPage, filters, {
        from: pageParam,
        want: PAGE,
        // GET /audit has no actor filter: the actor is matched here, on the entries read.
        keep: actor ? (e) => e.actor.toLowerCase().includes(actor) : undefined,
      }),
    getNextPageParam: (last) => (last.below > 0 ? last.below : undefined),
    staleTime: 30_000,
  });
  const entries = trail.data?.pages.flatMap((p) => p.items) ?? [];
  const actions = [...new Set(entries.map((e) => e.action))].sort();
  const set = (k: keyof Form) => (e: { target: { value: string } }) =>
    setForm({ ...form, [k]: e.target.value });

  return (
    <>
      <form
        className="b-filters"
        aria-label="Audit filters"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied({
            action: form.action.trim(),
            target_type: form.target_type.trim(),
            target_id: form.target_id.trim(),
            actor: form.actor.trim(),
          });
        }}
      >
        <span className="b-field">
          <label htmlFor={`${ids}-actor`}>Actor</label>
          <input
            id={`${ids}-actor`}
            value={form.actor}
            maxLength={128}
            onChange={set('actor')}
            aria-describedby={`${ids}-actor-hint`}
          />
          <span id={`${ids}-actor-hint`} className="hint audit-hint">
            Part of the name, any case
          </span>
        </span>
        <span className="b-field">
          <label htmlFor={`${ids}-action`}>Action</label>
          <input
            id={`${ids}-action`}
            list={`${ids}-actions`}
            value={form.action}
            maxLength={64}
            onChange={set('action')}
            aria-describedby={`${ids}-action-hint`}
          />
          <datalist id={`${ids}-actions`}>
            {actions.map((a) => (
              <option key={a} value={a} />
            ))}
          </datalist>
          <span id={`${ids}-action-hint`} className="hint audit-hint">
            Exact, e.g. case.update
          </span>
        </span>
        <span className="b-field">
          <label htmlFor={`${ids}-ttype`}>Target type</label>
          <input id={`${ids}-ttype`} value={form.target_type} maxLength={64} onChange={set('target_type')} />
        </span>
        <span className="b-field">
          <label htmlFor={`${ids}-tid`}>Target id</label>
          <input id={`${ids}-tid`} value={form.target_id} maxLength={256} onChange={set('target_id')} />
        </span>
        <span className="b-actions">
          <button type="submit">Filter</button>
          <button type="button" className="secondary" onClick={() => void trail.refetch()}>
            Refresh
          </button>
        </span>
      </form>
      <ErrorNote error={trail.error} />
      {trail.isPending && <p className="loading">Reading the audit trail…</p>}
      {trail.data && (
        <>
          <p className="muted" aria-live="polite">
            {entries.length.toLocaleString()} entr{entries.length === 1 ? 'y' : 'ies'}, newest first
            {trail.hasNextPage ? '' : ' — the start of the trail'}.
          </p>
          <TableWrap label="Audit entry list">
            <table aria-busy={trail.isFetching}>
              <caption className="visually-hidden">Audit entries, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">When</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Action</th>
                  <th scope="col">Target</th>
                  <th scope="col">Reason and details</th>
                </tr>
              </thead>
              <tbody>
                {entries.map((e) => (
                  <Row key={e.id} entry={e} />
                ))}
              </tbody>
            </table>
          </TableWrap>
          {entries.length === 0 && <p className="muted">No entry matches.</p>}
          {trail.hasNextPage && (
            <button
              type="button"
              className="secondary"
              disabled={trail.isFetchingNextPage}
              onClick={() => void trail.fetchNextPage()}
            >
              {trail.isFetchingNextPage ? 'Loading…' : 'Load older entries'}
            </button>
          )}
        </>
      )}
    </>
  );
}

function Row({ entry: e }: { entry: AuditEntry }) {
  const page = TARGET_PAGE[e.target_type];
  const hasDetails = Object.keys(e.details).length > 0;
  return (
    <tr>
      <td className="num">{e.id}</td>
      <td>
        <Time iso={e.at} />
      </td>
      <td className="b-wrap">{e.actor}</td>
      <td>
        <code>{e.action}</code>
      </td>
      <td className="b-wrap">
        {e.target_type}:{' '}
        {page && UUID.test(e.target_id) ? (
          <ViewLink to={pathTo(page, e.target_id)}>{e.target_id}</ViewLink>
        ) : (
          <code>{e.target_id}</code>
        )}
      </td>
      <td className="b-wrap audit-details">
        {e.reason && <p className="b-pre-text">{e.reason}</p>}
        {hasDetails && (
          <details>
            <summary>Details</summary>
            <pre>{JSON.stringify(e.details, null, 2)}</pre>
          </details>
        )}
      </td>
    </tr>
  );
}
