import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useParams } from '@tanstack/react-router';
import { useEffect, useRef, useState } from 'react';
import { TechniqueList } from '../components/attack-links.tsx';
import { EventsTable, errorText, Timeline } from '../components/detail-parts.tsx';
import { EntityList } from '../components/entity-list.tsx';
import { PriorityBreakdown } from '../components/priority-breakdown.tsx';
import { PriorityValue, SeverityBadge } from '../components/severity-badge.tsx';
import { Time } from '../components/time.tsx';
import { type Citation, EventViewer, VerdictPanel } from '../components/verdict-panel.tsx';
import { ApiError, api } from '../lib/api.ts';
import { useAuth } from '../lib/auth.tsx';
import { paths } from '../lib/links.ts';
import type {
  Alert,
  AlertDetail as AlertDetailT,
  Detection,
  NormalisedEvent,
  StoredVerdict,
} from '../lib/types.ts';
import '../components/widgets.css';
import './detail.css';

interface TimelineItem {
  at: string;
  what: string;
}

function alertTimeline(a: AlertDetailT): TimelineItem[] {
  const items: TimelineItem[] = a.events.map((e) => ({
    at: e.time,
    what: `${e.activity_name ?? e.class_name}${e.status !== 'unknown' ? ` (${e.status})` : ''} — ${e.source}`,
  }));
  items.push({ at: a.created_at, what: 'Alert raised' });
  if (a.count > 1) items.push({ at: a.updated_at, what: `Folded ${a.count} identical detections` });
  if (a.verdict) items.push({ at: a.verdict.created_at, what: `Verdict by ${a.verdict.analyst}` });
  return items.sort((x, y) => x.at.localeCompare(y.at));
}

const RARITY_TEXT: Record<NonNullable<Detection['rarity']>['verdict'], string> = {
  learning: 'the baselines were still learning',
  new: 'first seen for this identity',
  seen: 'seen before, not yet familiar',
  familiar: 'familiar for this identity',
};

/**
 * Why a detection's level is not its rule's own: the rule's level, each reason (a status cap, a configured
 * override, rarity) and the rarity of the call behind it. Reasons and identities are text from the data
 * (an identity name is the attacker's to choose): rendered as text, never as markup.
 */
function LevelMoved({ detection: d }: { detection: Detection }) {
  const own = d.rule_level !== undefined && d.rule_level !== d.level ? d.rule_level : undefined;
  if (own === undefined && !d.level_reasons?.length && !d.rarity) return null;
  return (
    <div className="level-moved">
      {own !== undefined && (
        <p>
          Level moved: the rule says <SeverityBadge severity={own} />, this detection is{' '}
          <SeverityBadge severity={d.level} />.
        </p>
      )}
      {d.level_reasons && d.level_reasons.length > 0 && (
        <ul aria-label="Why the level moved">
          {d.level_reasons.map((r, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: the reasons are a fixed list per detection; equal texts may repeat.
            <li key={i}>{r}</li>
          ))}
        </ul>
      )}
      {d.rarity && (
        <p className="muted">
          Rarity: {d.rarity.verdict} ({RARITY_TEXT[d.rarity.verdict]}), score {d.rarity.score}
          {d.rarity.first_seen.length > 0 && `; first seen: ${d.rarity.first_seen.join(', ')}`}; identity{' '}
          <code>{d.rarity.identity}</code>
        </p>
      )}
    </div>
  );
}

export default function AlertDetail() {
  const { id = '' } = useParams({ strict: false }) as { id?: string };
  const { can } = useAuth();
  const qc = useQueryClient();
  const q = useQuery({
    queryKey: ['alert', id],
    queryFn: ({ signal }) => api<AlertDetailT>(paths.alert(id), { signal }),
    enabled: Boolean(id),
  });
  const [citation, setCitation] = useState<Citation | null>(null);
  const [shown, setShown] = useState<string | undefined>(undefined);
  const viewerHeading = useRef<HTMLHeadingElement>(null);
  // A chosen citation moves focus to the event it shows (after the viewer has rendered it).
  const [focusTick, setFocusTick] = useState(0);
  useEffect(() => {
    if (focusTick) viewerHeading.current?.focus();
  }, [focusTick]);

  const analyze = useMutation({
    mutationFn: () => api<StoredVerdict>(`${paths.alert(id)}/analyze`, { method: 'POST' }),
    onSuccess: (verdict) => {
      qc.setQueryData<AlertDetailT>(['alert', id], (old) => (old ? { ...old, verdict } : old));
      // The new verdict moves the priority: fetch the breakdown again.
      void qc.invalidateQueries({ queryKey: ['alert', id] });
    },
  });
  const ack = useMutation({
    mutationFn: (status: Alert['status']) =>
      api<Alert>(paths.alert(id), { method: 'PATCH', body: { status } }),
    onSuccess: (updated) =>
      qc.setQueryData<AlertDetailT>(['alert', id], (old) => (old ? { ...old, ...updated } : old)),
  });

  if (q.isPending) return <p className="loading">Loading the alert…</p>;
  if (q.error)
    return (
      <div>
        <h1>Alert</h1>
        <p role="alert" className="error">
          {q.error instanceof ApiError && q.error.status === 404 ? 'No such alert.' : errorText(q.error)}
        </p>
        <Link to={paths.alerts}>Back to the queue</Link>
      </div>
    );
  const a = q.data;
  const cite = (c: Citation) => {
    setCitation(c);
    setFocusTick((n) => n + 1);
  };
  const showEvent = (e: NormalisedEvent) => {
    setCitation(null);
    setShown(e.id);
    setFocusTick((n) => n + 1);
  };

  return (
    <article className="detail" aria-labelledby="detail-title">
      <p className="crumbs">
        <Link to={paths.alerts}>Alerts</Link>
        {a.incident_id && (
          <>
            {' · '}
            <Link to={paths.incident(a.incident_id)}>its incident</Link>
          </>
        )}
      </p>
      <h1 id="detail-title">{a.title}</h1>
      <div className="detail-meta">
        <SeverityBadge severity={a.severity} />
        <span>
          Priority <PriorityValue priority={a.priority} />
        </span>
        <span className={`status status-${a.status}`}>{a.status.replace('_', ' ')}</span>
        <span>{a.source}</span>
        {a.count > 1 && <span>{a.count}× folded</span>}
        <span>
          First <Time iso={a.first_seen} />, last <Time iso={a.last_seen} />
        </span>
      </div>
      {can('analyst') && (
        <div className="detail-actions">
          <button type="button" disabled={analyze.isPending} onClick={() => analyze.mutate()}>
            {analyze.isPending ? 'Analysing…' : 'Analyze again'}
          </button>
          {a.status === 'new' && (
            <button
              type="button"
              className="secondary"
              disabled={ack.isPending}
              onClick={() => ack.mutate('acknowledged')}
            >
              Acknowledge
            </button>
          )}
          {a.status !== 'closed' && a.status !== 'suppressed' && (
            <button
              type="button"
              className="secondary"
              disabled={ack.isPending}
              onClick={() => ack.mutate('closed')}
            >
              Close
            </button>
          )}
        </div>
      )}
      {(analyze.error || ack.error) && (
        <p role="alert" className="error">
          {errorText(analyze.error ?? ack.error)}
        </p>
      )}

      <div className="detail-grid">
        <section className="panel" aria-labelledby="verdict-h">
          <h2 id="verdict-h">
            Verdict {a.verdict?.response.disputed && <span className="badge disputed">disputed</span>}
          </h2>
          {a.verdict ? (
            <VerdictPanel verdict={a.verdict} subjectId={a.id} subjectLabel="this alert" onCite={cite} />
          ) : (
            <p className="muted">No verdict yet.</p>
          )}
        </section>

        <section className="panel viewer" aria-label="Event JSON">
          <EventViewer
            citation={citation}
            known={a.events}
            fallbackId={shown ?? a.events[0]?.id}
            headingRef={viewerHeading}
          />
        </section>

        <section className="panel" aria-labelledby="prio-h">
          <h2 id="prio-h">Priority</h2>
          <PriorityBreakdown priority={a.priority} breakdown={a.priority_breakdown} />
        </section>

        <section className="panel" aria-labelledby="ent-h">
          <h2 id="ent-h">Entities</h2>
          <EntityList entities={a.entities} />
          <h2>ATT&amp;CK</h2>
          <TechniqueList ids={a.mitre_techniques} />
          {a.mitre_tactics.length > 0 && <p className="muted">Tactics: {a.mitre_tactics.join(', ')}</p>}
          <h2>Detections</h2>
          <ul className="plain-list">
            {a.detections.map((d) => (
              <li key={`${d.engine}:${d.rule_id}`}>
                <SeverityBadge severity={d.level} /> {d.rule_title}{' '}
                <span className="muted">
                  ({d.engine} <code>{d.rule_id}</code>
                  {d.confidence !== undefined && `, ${Math.round(d.confidence * 100)}%`})
                </span>
                <LevelMoved detection={d} />
              </li>
            ))}
          </ul>
          {a.description && <p className="prose">{a.description}</p>}
        </section>

        <section className="panel wide" aria-labelledby="events-h">
          <h2 id="events-h">Events</h2>
          {a.event_ids.length > a.events.length && (
            <p className="muted">
              The first {a.events.length} of {a.event_ids.length} events.
            </p>
          )}
          <EventsTable events={a.events} onShow={showEvent} />
        </section>

        <section className="panel wide" aria-labelledby="timeline-h">
          <h2 id="timeline-h">Timeline</h2>
          <Timeline items={alertTimeline(a)} />
        </section>
      </div>
    </article>
  );
}
