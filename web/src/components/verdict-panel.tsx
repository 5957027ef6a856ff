import { useQuery } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import type { Ref } from 'react';
import { api } from '../lib/api.ts';
import { paths } from '../lib/links.ts';
import type { Evidence, NormalisedEvent, StoredVerdict, TriageResponse } from '../lib/types.ts';
import { TechniqueList } from './attack-links.tsx';
import { JsonView, normalisePath, presentPaths } from './json-view.tsx';
import { SeverityBadge } from './severity-badge.tsx';
import { Time } from './time.tsx';
import './widgets.css';

/** A cited event and the fields the claim rests on. */
export interface Citation {
  eventId: string;
  fields: string[];
  claim?: string;
}

const short = (id: string) => id.slice(0, 8);
const pct = (n: number) => `${Math.round(n * 100)}%`;

/** What a verdict says (the parts a disputed model verdict shares with an accepted one). */
type Claims = Pick<
  TriageResponse,
  | 'severity'
  | 'category'
  | 'confidence'
  | 'is_true_positive'
  | 'false_positive_reason'
  | 'summary'
  | 'detailed_analysis'
  | 'potential_impact'
  | 'iocs'
  | 'mitre_techniques'
  | 'recommendations'
  | 'evidence'
>;

/**
 * The verdict that stands, with its evidence: each claim's cited events are buttons that show the event with
 * the cited fields marked (`onCite`), and links to the event's own page. A disputed model verdict is marked and
 * its claims shown apart, as unverified.
 */
export function VerdictPanel({
  verdict,
  subjectId,
  subjectLabel,
  onCite,
  headingLevel = 2,
}: {
  verdict: StoredVerdict;
  /** The alert or incident id: evidence citing it reads "this alert". */
  subjectId: string;
  subjectLabel: string;
  onCite(c: Citation): void;
  headingLevel?: 2 | 3;
}) {
  const r = verdict.response;
  const H = headingLevel === 2 ? 'h3' : 'h4';
  return (
    <div className="verdict">
      {r.disputed && (
        <div className="disputed-banner" role="note">
          <span className="badge disputed">Disputed</span>{' '}
          <span>
            A model's verdict was weaker than the built-in analyst's and was not accepted; what stands below
            is the built-in analyst's.
          </span>
          {r.dispute && (
            <p>
              <strong>Why:</strong> {r.dispute.reason}
            </p>
          )}
        </div>
      )}
      <ClaimsView claims={r} subjectId={subjectId} subjectLabel={subjectLabel} onCite={onCite} H={H} />
      <p className="muted provenance">
        Written by <code>{verdict.analyst}</code> <Time iso={verdict.created_at} />
        {' · '}
        {verdict.checked ? 'evidence checked' : 'evidence not checked'}
        {verdict.repaired && ' · repaired'}
        {verdict.fallback_reason && ` · fell back: ${verdict.fallback_reason}`}
      </p>
      {r.disputed && r.dispute && (
        <details className="model-claims">
          <summary>
            The model's claims (<code>{r.dispute.model}</code>): model-written, unverified
          </summary>
          <ClaimsView
            claims={r.dispute.claims}
            subjectId={subjectId}
            subjectLabel={subjectLabel}
            onCite={onCite}
            H={H === 'h3' ? 'h4' : 'h5'}
          />
        </details>
      )}
    </div>
  );
}

function ClaimsView({
  claims: r,
  subjectId,
  subjectLabel,
  onCite,
  H,
}: {
  claims: Claims;
  subjectId: string;
  subjectLabel: string;
  onCite(c: Citation): void;
  H: 'h3' | 'h4' | 'h5';
}) {
  return (
    <>
      <p className="verdict-summary">{r.summary}</p>
      <dl className="facts">
        <dt>Judgement</dt>
        <dd>
          <strong className={r.is_true_positive ? 'tp' : 'fp'}>
            {r.is_true_positive ? 'True positive' : 'False positive'}
          </strong>{' '}
          with {pct(r.confidence)} confidence
          {!r.is_true_positive && r.false_positive_reason && <span>: {r.false_positive_reason}</span>}
        </dd>
        <dt>Severity</dt>
        <dd>
          <SeverityBadge severity={r.severity} />
        </dd>
        <dt>Category</dt>
        <dd>{r.category.replaceAll('_', ' ')}</dd>
        <dt>Techniques</dt>
        <dd>
          <TechniqueList ids={r.mitre_techniques} />
        </dd>
      </dl>
      {r.detailed_analysis && (
        <>
          <H>Analysis</H>
          <p className="prose">{r.detailed_analysis}</p>
        </>
      )}
      {r.potential_impact && (
        <>
          <H>Potential impact</H>
          <p className="prose">{r.potential_impact}</p>
        </>
      )}
      <H>Evidence</H>
      <EvidenceList evidence={r.evidence} subjectId={subjectId} subjectLabel={subjectLabel} onCite={onCite} />
      {r.iocs.length > 0 && (
        <>
          <H>Indicators</H>
          <table className="compact">
            <thead>
              <tr>
                <th scope="col">Type</th>
                <th scope="col">Value</th>
                <th scope="col">Confidence</th>
              </tr>
            </thead>
            <tbody>
              {r.iocs.map((i) => (
                <tr key={`${i.ioc_type}:${i.value}`}>
                  <td>{i.ioc_type}</td>
                  <td className="wrap">
                    <code>{i.value}</code>
                  </td>
                  <td>{pct(i.confidence)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <H>Recommendations</H>
      <Recommendations items={r.recommendations} />
    </>
  );
}

export function Recommendations({ items }: { items: TriageResponse['recommendations'] }) {
  if (!items.length) return <p className="muted">None.</p>;
  return (
    <ol className="recommendations">
      {[...items]
        .sort((a, b) => a.priority - b.priority)
        .map((x) => (
          <li key={`${x.priority}:${x.action}`}>
            <span className="badge" title={`Priority ${x.priority}: 1 is first`}>
              P{x.priority}
            </span>{' '}
            <strong>{x.action}</strong>
            {x.rationale && <span className="muted"> — {x.rationale}</span>}
          </li>
        ))}
    </ol>
  );
}

function EvidenceList({
  evidence,
  subjectId,
  subjectLabel,
  onCite,
}: {
  evidence: Evidence[];
  subjectId: string;
  subjectLabel: string;
  onCite(c: Citation): void;
}) {
  if (!evidence.length) return <p className="muted">The verdict cites no evidence.</p>;
  return (
    <ul className="evidence">
      {evidence.map((e, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: claims have no id and may repeat; their order is fixed
        <li key={i}>
          <p className="claim">{e.claim}</p>
          {e.fields.length > 0 && (
            <p className="muted fields">
              Fields:{' '}
              {e.fields.map((f, j) => (
                <span key={f}>
                  {j > 0 && ', '}
                  <code>{f}</code>
                </span>
              ))}
            </p>
          )}
          {e.event_ids.length > 0 && (
            <ul className="inline-list cites" aria-label="Cited records">
              {e.event_ids.map((id) =>
                id === subjectId ? (
                  <li key={id} className="muted">
                    {subjectLabel}
                  </li>
                ) : (
                  <li key={id}>
                    <button
                      type="button"
                      className="secondary small"
                      onClick={() => onCite({ eventId: id, fields: e.fields, claim: e.claim })}
                    >
                      Show event {short(id)}
                    </button>{' '}
                    <Link to={paths.event(id)}>
                      open<span className="visually-hidden"> event {short(id)}</span>
                    </Link>
                  </li>
                ),
              )}
            </ul>
          )}
        </li>
      ))}
    </ul>
  );
}

/**
 * One event as JSON with the cited fields marked. Events the page already holds are shown at once; others are
 * fetched from `GET /events/:id`.
 */
export function EventViewer({
  citation,
  known,
  fallbackId,
  headingRef,
}: {
  citation: Citation | null;
  known: readonly NormalisedEvent[];
  fallbackId?: string | undefined;
  /** The heading takes focus when a citation is chosen, so keyboard and screen-reader users land on it. */
  headingRef?: Ref<HTMLHeadingElement>;
}) {
  const id = citation?.eventId ?? fallbackId;
  const local = id ? known.find((e) => e.id === id) : undefined;
  const q = useQuery({
    queryKey: ['event', id],
    queryFn: ({ signal }) => api<NormalisedEvent>(paths.event(id ?? ''), { signal }),
    enabled: Boolean(id) && !local,
    staleTime: Number.POSITIVE_INFINITY,
  });
  const event = local ?? q.data;
  const fields = citation?.fields ?? [];
  const found = event ? presentPaths(event, fields) : new Set<string>();
  return (
    <div className="event-viewer">
      <h2 ref={headingRef} tabIndex={-1}>
        {citation ? 'Cited event' : 'Event'} {id ? <code>{short(id)}</code> : null}
      </h2>
      {citation?.claim && (
        <p>
          <span className="muted">Claim:</span> {citation.claim}
        </p>
      )}
      {!id && <p className="muted">No event to show.</p>}
      {id && q.error && !local && (
        <p role="alert" className="error">
          Event {short(id)} could not be loaded: {q.error instanceof Error ? q.error.message : 'error'}
        </p>
      )}
      {id && !event && !q.error && <p className="muted">Loading…</p>}
      {event && (
        <>
          {fields.length > 0 && (
            <p className="muted">
              Marked fields:{' '}
              {fields.map((f, j) => (
                <span key={f}>
                  {j > 0 && ', '}
                  <code>{f}</code>
                  {!found.has(normalisePath(f)) && ' (not in this event)'}
                </span>
              ))}
            </p>
          )}
          <p>
            <Link to={paths.event(event.id)}>Open the event's page</Link>
          </p>
          <JsonView value={event} highlight={fields} label={`Event ${short(event.id)} as JSON`} />
        </>
      )}
    </div>
  );
}
