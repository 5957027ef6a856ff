import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate, useParams } from '@tanstack/react-router';
import { useEffect, useRef, useState } from 'react';
import { TechniqueList } from '../components/attack-links.tsx';
import { errorText, Timeline } from '../components/detail-parts.tsx';
import { EntityList } from '../components/entity-list.tsx';
import { PriorityValue, SeverityBadge } from '../components/severity-badge.tsx';
import { Time } from '../components/time.tsx';
import { type Citation, EventViewer, VerdictPanel } from '../components/verdict-panel.tsx';
import { ApiError, api } from '../lib/api.ts';
import { useAuth } from '../lib/auth.tsx';
import { paths } from '../lib/links.ts';
import type { Case, IncidentDetail as IncidentDetailT, StoredVerdict } from '../lib/types.ts';
import '../components/widgets.css';
import './detail.css';

/** `GET /incidents/:id`: the incident, its alerts and its latest verdict (null before any). */
type IncidentAnswer = IncidentDetailT & { verdict?: StoredVerdict | null };

export default function IncidentDetail() {
  const { id = '' } = useParams({ strict: false }) as { id?: string };
  const { can } = useAuth();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const q = useQuery({
    queryKey: ['incident', id],
    queryFn: ({ signal }) => api<IncidentAnswer>(paths.incident(id), { signal }),
    enabled: Boolean(id),
  });
  const [citation, setCitation] = useState<Citation | null>(null);
  const viewerHeading = useRef<HTMLHeadingElement>(null);
  // A chosen citation moves focus to the event it shows (after the viewer has rendered it).
  const [focusTick, setFocusTick] = useState(0);
  useEffect(() => {
    if (focusTick) viewerHeading.current?.focus();
  }, [focusTick]);

  const analyze = useMutation({
    mutationFn: () => api<StoredVerdict>(`${paths.incident(id)}/analyze`, { method: 'POST' }),
    onSuccess: (verdict) =>
      qc.setQueryData<IncidentAnswer>(['incident', id], (old) => (old ? { ...old, verdict } : old)),
  });
  const openCase = useMutation({
    mutationFn: () => api<Case>('/cases', { method: 'POST', body: { incident_id: id } }),
    onSuccess: (c) => {
      qc.setQueryData<IncidentAnswer>(['incident', id], (old) => (old ? { ...old, case_id: c.id } : old));
      void navigate({ to: paths.case(c.id) });
    },
  });

  if (q.isPending) return <p className="loading">Loading the incident…</p>;
  if (q.error)
    return (
      <div>
        <h1>Incident</h1>
        <p role="alert" className="error">
          {q.error instanceof ApiError && q.error.status === 404 ? 'No such incident.' : errorText(q.error)}
        </p>
        <Link to={paths.incidents}>Back to incidents</Link>
      </div>
    );
  const inc = q.data;
  const verdict = inc.verdict ?? null;
  const cite = (c: Citation) => {
    setCitation(c);
    setFocusTick((n) => n + 1);
  };
  const alerts = [...inc.alerts].sort((x, y) => x.first_seen.localeCompare(y.first_seen));
  const timeline = [
    ...alerts.map((a) => ({
      at: a.first_seen,
      what: (
        <>
          <SeverityBadge severity={a.severity} /> <Link to={paths.alert(a.id)}>{a.title}</Link>
          {a.count > 1 && <span className="muted"> ×{a.count}</span>}
        </>
      ),
    })),
    { at: inc.created_at, what: 'Incident opened' },
    ...(verdict ? [{ at: verdict.created_at, what: `Verdict by ${verdict.analyst}` }] : []),
  ].sort((x, y) => x.at.localeCompare(y.at));

  return (
    <article className="detail" aria-labelledby="detail-title">
      <p className="crumbs">
        <Link to={paths.incidents}>Incidents</Link>
      </p>
      <h1 id="detail-title">{inc.title}</h1>
      <div className="detail-meta">
        <SeverityBadge severity={inc.severity} />
        <span>
          Priority <PriorityValue priority={inc.priority} />
        </span>
        <span className={`status status-${inc.status}`}>{inc.status}</span>
        <span>
          {inc.alert_count} {inc.alert_count === 1 ? 'alert' : 'alerts'}
        </span>
        <span>
          First <Time iso={inc.first_seen} />, last <Time iso={inc.last_seen} />
        </span>
      </div>
      <div className="detail-actions">
        {inc.case_id ? (
          <Link className="button-link" to={paths.case(inc.case_id)}>
            Open its case
          </Link>
        ) : (
          can('analyst') && (
            <button type="button" disabled={openCase.isPending} onClick={() => openCase.mutate()}>
              {openCase.isPending ? 'Creating the case…' : 'Create a case'}
            </button>
          )
        )}
        {can('analyst') && (
          <button
            type="button"
            className="secondary"
            disabled={analyze.isPending}
            onClick={() => analyze.mutate()}
          >
            {analyze.isPending ? 'Analysing…' : 'Analyze again'}
          </button>
        )}
      </div>
      {(analyze.error || openCase.error) && (
        <p role="alert" className="error">
          {errorText(analyze.error ?? openCase.error)}
        </p>
      )}

      <div className="detail-grid">
        <section className="panel" aria-labelledby="verdict-h">
          <h2 id="verdict-h">
            Verdict {verdict?.response.disputed && <span className="badge disputed">disputed</span>}
          </h2>
          {verdict ? (
            <VerdictPanel verdict={verdict} subjectId={inc.id} subjectLabel="this incident" onCite={cite} />
          ) : (
            <p className="muted">
              No verdict on this page yet{can('analyst') ? ': “Analyze again” asks for one.' : '.'} Each alert
              keeps its own verdict.
            </p>
          )}
        </section>

        {citation && (
          <section className="panel viewer" aria-label="Event JSON">
            <EventViewer citation={citation} known={[]} headingRef={viewerHeading} />
          </section>
        )}

        <section className="panel" aria-labelledby="ent-h">
          <h2 id="ent-h">Entities</h2>
          <EntityList entities={inc.entities} />
          <h2>ATT&amp;CK</h2>
          <TechniqueList ids={inc.mitre_techniques} />
          {inc.mitre_tactics.length > 0 && <p className="muted">Tactics: {inc.mitre_tactics.join(', ')}</p>}
        </section>

        <section className="panel wide" aria-labelledby="alerts-h">
          <h2 id="alerts-h">Alerts</h2>
          {inc.alert_ids.length > inc.alerts.length && (
            <p className="muted">
              {inc.alerts.length} of {inc.alert_ids.length} alerts shown.
            </p>
          )}
          <div className="table-scroll">
            <table className="compact">
              <thead>
                <tr>
                  <th scope="col">Severity</th>
                  <th scope="col">Priority</th>
                  <th scope="col">Title</th>
                  <th scope="col">Status</th>
                  <th scope="col" className="hide-narrow">
                    Last seen
                  </th>
                </tr>
              </thead>
              <tbody>
                {inc.alerts.map((a) => (
                  <tr key={a.id}>
                    <td>
                      <SeverityBadge severity={a.severity} />
                    </td>
                    <td>
                      <PriorityValue priority={a.priority} />
                    </td>
                    <td className="wrap">
                      <Link to={paths.alert(a.id)}>{a.title}</Link>
                    </td>
                    <td className={`status status-${a.status}`}>{a.status.replace('_', ' ')}</td>
                    <td className="hide-narrow">
                      <Time iso={a.last_seen} relative />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>

        <section className="panel wide" aria-labelledby="timeline-h">
          <h2 id="timeline-h">Timeline</h2>
          <Timeline items={timeline} />
        </section>
      </div>
    </article>
  );
}
