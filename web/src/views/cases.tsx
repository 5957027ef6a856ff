import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useId, useMemo, useState } from 'react';
import { ErrorNote } from '../components/b-error.tsx';
import { pathTo, ViewLink } from '../components/b-link.tsx';
import { Pager } from '../components/b-pager.tsx';
import { Severity } from '../components/b-severity.tsx';
import { TableWrap } from '../components/b-table-wrap.tsx';
import { Time } from '../components/b-time.tsx';
import { api } from '../lib/api.ts';
import type { Case, Page } from '../lib/types.ts';
import './cases.css';

type CaseStatus = Case['status'];
const STATUSES: CaseStatus[] = ['new', 'in_progress', 'resolved', 'closed'];
const LIMIT = 50;
/**
 * GET /cases filters by status only: an assignee filter reads the most recently updated cases the server
 * gives in one page (its maximum) and filters them here, and says so.
 */
const ASSIGNEE_WINDOW = 1000;
/** Assignee choices as option values: one letter each, a name after `=`, so no name can be taken for another. */
const ANYONE = 'any';
const UNASSIGNED = 'none';
const named = (name: string) => `=${name}`;

type StatusChoice = 'open' | 'all' | CaseStatus;

/** Cases, most recently updated first, by status and assignee; each a link to its detail. */
export default function Cases() {
  const ids = useId();
  const [status, setStatus] = useState<StatusChoice>('open');
  const [assignee, setAssignee] = useState(ANYONE);
  const [offset, setOffset] = useState(0);
  const byAssignee = assignee !== ANYONE;
  const query = {
    status: status === 'all' ? undefined : status === 'open' ? ['new', 'in_progress'] : [status],
    limit: byAssignee ? ASSIGNEE_WINDOW : LIMIT,
    offset: byAssignee ? 0 : offset,
  };
  const cases = useQuery({
    queryKey: ['cases', query],
    queryFn: ({ signal }) => api<Page<Case>>('/cases', { query, signal }),
    placeholderData: keepPreviousData,
  });
  // The assignees the analyst can pick: those of the cases in view, plus the one already picked.
  const assignees = useMemo(() => {
    const s = new Set<string>();
    for (const c of cases.data?.items ?? []) if (c.assignee) s.add(c.assignee);
    if (assignee.startsWith('=')) s.add(assignee.slice(1));
    return [...s].sort();
  }, [cases.data, assignee]);

  const all = cases.data?.items ?? [];
  const shown = byAssignee
    ? all.filter((c) => (assignee === UNASSIGNED ? !c.assignee : named(c.assignee ?? '') === assignee))
    : all;

  return (
    <section className="cases" aria-labelledby={`${ids}-h`}>
      <h1 id={`${ids}-h`}>Cases</h1>
      <form className="b-filters" aria-label="Case filters" onSubmit={(e) => e.preventDefault()}>
        <span className="b-field">
          <label htmlFor={`${ids}-status`}>Status</label>
          <select
            id={`${ids}-status`}
            value={status}
            onChange={(e) => {
              setStatus(e.target.value as StatusChoice);
              setOffset(0);
            }}
          >
            <option value="open">Open (new, in progress)</option>
            <option value="all">All</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s.replace('_', ' ')}
              </option>
            ))}
          </select>
        </span>
        <span className="b-field">
          <label htmlFor={`${ids}-assignee`}>Assignee</label>
          <select
            id={`${ids}-assignee`}
            value={assignee}
            onChange={(e) => {
              setAssignee(e.target.value);
              setOffset(0);
            }}
          >
            <option value={ANYONE}>Anyone</option>
            <option value={UNASSIGNED}>Unassigned</option>
            {assignees.map((a) => (
              <option key={a} value={named(a)}>
                {a}
              </option>
            ))}
          </select>
        </span>
      </form>
      <ErrorNote error={cases.error} />
      {cases.isPending && <p className="loading">Loading cases…</p>}
      {cases.data && (
        <>
          {byAssignee && cases.data.total > ASSIGNEE_WINDOW && (
            <p className="hint">
              Filtered among the {ASSIGNEE_WINDOW.toLocaleString()} most recently updated of{' '}
              {cases.data.total.toLocaleString()} cases.
            </p>
          )}
          <TableWrap label="Case list">
            <table aria-busy={cases.isFetching}>
              <caption className="visually-hidden">Cases</caption>
              <thead>
                <tr>
                  <th scope="col">Severity</th>
                  <th scope="col">Title</th>
                  <th scope="col">Status</th>
                  <th scope="col">Resolution</th>
                  <th scope="col">Assignee</th>
                  <th scope="col">Tasks done</th>
                  <th scope="col">Updated</th>
                </tr>
              </thead>
              <tbody>
                {shown.map((c) => (
                  <tr key={c.id}>
                    <td>
                      <Severity value={c.severity} />
                    </td>
                    <td className="b-wrap">
                      <ViewLink to={pathTo('/cases', c.id)}>{c.title}</ViewLink>
                    </td>
                    <td>{c.status.replace('_', ' ')}</td>
                    <td>{c.resolution?.replace('_', ' ') ?? <span className="muted">—</span>}</td>
                    <td>{c.assignee ?? <span className="muted">unassigned</span>}</td>
                    <td>
                      {c.tasks.filter((t) => t.status === 'done').length}/{c.tasks.length}
                    </td>
                    <td>
                      <Time iso={c.updated_at} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
          {shown.length === 0 && <p className="muted">No case matches.</p>}
          {!byAssignee && (
            <Pager
              label="Case pages"
              offset={offset}
              limit={LIMIT}
              total={cases.data.total}
              onChange={setOffset}
            />
          )}
        </>
      )}
    </section>
  );
}
