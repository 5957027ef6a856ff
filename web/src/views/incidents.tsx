import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { ErrorNote } from '../components/b-error.tsx';
import { pathTo, ViewLink } from '../components/b-link.tsx';
import { Pager } from '../components/b-pager.tsx';
import { Severity } from '../components/b-severity.tsx';
import { TableWrap } from '../components/b-table-wrap.tsx';
import { Time } from '../components/b-time.tsx';
import { api } from '../lib/api.ts';
import type { Incident, IncidentStatus, Page } from '../lib/types.ts';
import './incidents.css';

const STATUSES: IncidentStatus[] = ['open', 'investigating', 'contained', 'resolved', 'closed'];
/** The statuses someone still has to act on: the default view. */
const ACTIVE: IncidentStatus[] = ['open', 'investigating', 'contained'];
const LIMIT = 50;

type StatusChoice = 'active' | 'all' | IncidentStatus;

function statusesOf(choice: StatusChoice): IncidentStatus[] | undefined {
  if (choice === 'all') return undefined;
  return choice === 'active' ? ACTIVE : [choice];
}

/** Incidents by priority (or time), filtered by status, each a link to its detail. */
export default function Incidents() {
  const ids = useId();
  const [status, setStatus] = useState<StatusChoice>('active');
  const [sort, setSort] = useState<'priority' | 'time'>('priority');
  const [order, setOrder] = useState<'desc' | 'asc'>('desc');
  const [offset, setOffset] = useState(0);
  const query = { status: statusesOf(status), sort, order, limit: LIMIT, offset };
  const incidents = useQuery({
    queryKey: ['incidents', query],
    queryFn: ({ signal }) => api<Page<Incident>>('/incidents', { query, signal }),
    placeholderData: keepPreviousData,
  });

  return (
    <section className="incidents" aria-labelledby={`${ids}-h`}>
      <h1 id={`${ids}-h`}>Incidents</h1>
      <form className="b-filters" aria-label="Incident filters" onSubmit={(e) => e.preventDefault()}>
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
            <option value="active">Active (open, investigating, contained)</option>
            <option value="all">All</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </span>
        <span className="b-field">
          <label htmlFor={`${ids}-sort`}>Sort by</label>
          <select
            id={`${ids}-sort`}
            value={sort}
            onChange={(e) => {
              setSort(e.target.value as 'priority' | 'time');
              setOffset(0);
            }}
          >
            <option value="priority">Priority</option>
            <option value="time">Time</option>
          </select>
        </span>
        <span className="b-field">
          <label htmlFor={`${ids}-order`}>Order</label>
          <select
            id={`${ids}-order`}
            value={order}
            onChange={(e) => {
              setOrder(e.target.value as 'desc' | 'asc');
              setOffset(0);
            }}
          >
            <option value="desc">{sort === 'priority' ? 'Highest first' : 'Newest first'}</option>
            <option value="asc">{sort === 'priority' ? 'Lowest first' : 'Oldest first'}</option>
          </select>
        </span>
      </form>
      <ErrorNote error={incidents.error} />
      {incidents.isPending && <p className="loading">Loading incidents…</p>}
      {incidents.data && (
        <>
          <TableWrap label="Incident list">
            <table aria-busy={incidents.isFetching}>
              <caption className="visually-hidden">Incidents, {incidents.data.total} in all</caption>
              <thead>
                <tr>
                  <th scope="col">Priority</th>
                  <th scope="col">Severity</th>
                  <th scope="col">Title</th>
                  <th scope="col">Status</th>
                  <th scope="col">Alerts</th>
                  <th scope="col" className="hide-narrow">
                    Entities
                  </th>
                  <th scope="col">Last seen</th>
                </tr>
              </thead>
              <tbody>
                {incidents.data.items.map((i) => (
                  <tr key={i.id}>
                    <td className="num">{Math.round(i.priority)}</td>
                    <td>
                      <Severity value={i.severity} />
                    </td>
                    <td className="b-wrap">
                      <ViewLink to={pathTo('/incidents', i.id)}>{i.title}</ViewLink>
                    </td>
                    <td>{i.status}</td>
                    <td className="num">{i.alert_count}</td>
                    <td className="hide-narrow b-wrap">
                      {i.entities.slice(0, 4).map((e) => (
                        <span key={`${e.type}:${e.value}`} className="b-tag">
                          {e.type}: {e.value}
                        </span>
                      ))}
                      {i.entities.length > 4 && <span className="muted">+{i.entities.length - 4}</span>}
                    </td>
                    <td>
                      <Time iso={i.last_seen} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
          {incidents.data.items.length === 0 && <p className="muted">No incident matches.</p>}
          <Pager
            label="Incident pages"
            offset={offset}
            limit={LIMIT}
            total={incidents.data.total}
            onChange={setOffset}
          />
        </>
      )}
    </section>
  );
}
