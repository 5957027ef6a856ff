import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { useId, useState } from 'react';
import { Time } from '../components/time.tsx';
import { ApiError, api } from '../lib/api.ts';
import { useAuth } from '../lib/auth.tsx';
import { paths } from '../lib/links.ts';
import type { ActionRequest, Page } from '../lib/types.ts';
import '../components/widgets.css';
import './approvals.css';

/** Statuses a decided request can be in (everything but waiting): the "recently decided" list. */
const DECIDED = [
  'approved',
  'running',
  'succeeded',
  'dry_run',
  'skipped',
  'failed',
  'denied',
  'expired',
  'interrupted',
  'rolled_back',
  'rollback_failed',
];

const EFFECT_TEXT: Record<string, string> = {
  'read-only': 'Read-only: looks, changes nothing',
  reversible: 'Reversible: changes the system, can be rolled back',
  destructive: 'Destructive: cannot be undone',
};

function errorText(e: unknown): string {
  if (e instanceof ApiError) return `${e.message}${e.code.startsWith('AISOC_') ? ` (${e.code})` : ''}`;
  return e instanceof Error ? e.message : 'The request failed.';
}

function valueText(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export default function Approvals() {
  const pending = useQuery({
    queryKey: ['actions', 'pending'],
    queryFn: ({ signal }) =>
      api<Page<ActionRequest>>('/actions', { query: { status: 'pending_approval', limit: 100 }, signal }),
    refetchInterval: 15_000,
  });
  const recent = useQuery({
    queryKey: ['actions', 'recent'],
    queryFn: ({ signal }) =>
      api<Page<ActionRequest>>('/actions', { query: { status: DECIDED, limit: 20 }, signal }),
    refetchInterval: 30_000,
  });
  return (
    <div className="approvals">
      <h1>Approvals</h1>
      <p className="hint">
        Actions wait here for a responder. Four eyes: the person who asked for an action cannot approve it.
      </p>
      <section aria-labelledby="pending-h">
        <h2 id="pending-h">Waiting for approval{pending.data ? ` (${pending.data.total})` : ''}</h2>
        <ActionList query={pending} empty="Nothing is waiting for approval." />
      </section>
      <section aria-labelledby="recent-h">
        <h2 id="recent-h">Recently decided</h2>
        <ActionList query={recent} empty="No decided actions yet." />
      </section>
    </div>
  );
}

function ActionList({
  query,
  empty,
}: {
  query: { data?: Page<ActionRequest>; error: unknown; isPending: boolean };
  empty: string;
}) {
  if (query.error)
    return (
      <p role="alert" className="error">
        {errorText(query.error)}
      </p>
    );
  if (query.isPending) return <p className="muted">Loading…</p>;
  if (!query.data?.items.length) return <p className="muted">{empty}</p>;
  return (
    <ul className="action-list">
      {query.data.items.map((a) => (
        <li key={a.id}>
          <ActionCard action={a} />
        </li>
      ))}
    </ul>
  );
}

export function ActionCard({ action: a }: { action: ActionRequest }) {
  const { can, identity } = useAuth();
  const qc = useQueryClient();
  const [comment, setComment] = useState('');
  const [notice, setNotice] = useState<string | null>(null);
  const commentId = useId();
  const headingId = useId();

  const decide = useMutation({
    mutationFn: (verb: 'approve' | 'deny' | 'rollback') =>
      api<ActionRequest>(`/actions/${encodeURIComponent(a.id)}/${verb}`, {
        method: 'POST',
        body: comment.trim() ? { comment: comment.trim() } : {},
      }),
    onSuccess: (done, verb) => {
      setNotice(
        `${verb === 'approve' ? 'Approved' : verb === 'deny' ? 'Denied' : 'Rollback asked'}: the action is now ${done.status.replace('_', ' ')}.`,
      );
      setComment('');
      void qc.invalidateQueries({ queryKey: ['actions'] });
    },
    onError: () => setNotice(null),
  });

  const me = identity?.name;
  const mine = me !== undefined && a.requested_by === me;
  const approvedByMe = me !== undefined && (a.approvals ?? []).some((x) => x.by === me);
  const isPending = a.status === 'pending_approval';
  const mayRespond = can('responder');
  const mayRollBack =
    mayRespond && a.effect === 'reversible' && (a.status === 'succeeded' || a.status === 'dry_run');
  const input = Object.entries(a.input ?? {});

  return (
    <article className={`panel action action-${a.effect}`} aria-labelledby={headingId}>
      <header className="action-head">
        <h3 id={headingId}>
          <code>{a.type}</code>
        </h3>
        <span className={`badge effect effect-${a.effect}`}>{a.effect}</span>
        {a.dry_run && <span className="badge">dry run</span>}
        <span className={`badge status status-${a.status}`}>{a.status.replace('_', ' ')}</span>
      </header>
      <dl className="action-facts">
        <dt>Target</dt>
        <dd>
          {input.length ? (
            <ul className="plain">
              {input.map(([k, v]) => (
                <li key={k}>
                  <span className="muted">{k}</span> <code>{valueText(v)}</code>
                </li>
              ))}
            </ul>
          ) : (
            <span className="muted">No input</span>
          )}
        </dd>
        <dt>Effect</dt>
        <dd>{EFFECT_TEXT[a.effect] ?? a.effect}</dd>
        <dt>Mode</dt>
        <dd>
          {a.dry_run ? 'Dry run: reports what it would do and changes nothing' : 'Live: changes the system'}
        </dd>
        {isPending && (
          <>
            <dt>What it will do</dt>
            <dd className="preview">
              {a.preview ? (
                <>
                  <span className={`badge status status-${a.preview.status}`}>
                    {a.preview.status === 'failed' ? 'failed' : 'would do'}
                  </span>{' '}
                  {a.preview.summary}
                  {Object.keys(a.preview.details).length > 0 && (
                    <details>
                      <summary>What the dry run reported</summary>
                      <pre>{JSON.stringify(a.preview.details, null, 2)}</pre>
                    </details>
                  )}
                </>
              ) : (
                <span className="muted">No dry run was recorded for this request.</span>
              )}
            </dd>
          </>
        )}
        <dt>Asked by</dt>
        <dd>
          {a.requested_by}
          {mine && <strong> (you)</strong>} <Time iso={a.created_at} relative />
        </dd>
        <dt>Why</dt>
        <dd className="reason">{a.reason}</dd>
        {(a.alert_id || a.incident_id) && (
          <>
            <dt>About</dt>
            <dd>
              {a.alert_id && <Link to={paths.alert(a.alert_id)}>the alert</Link>}
              {a.alert_id && a.incident_id && ', '}
              {a.incident_id && <Link to={paths.incident(a.incident_id)}>the incident</Link>}
            </dd>
          </>
        )}
        {a.expires_at && isPending && (
          <>
            <dt>Expires</dt>
            <dd>
              <Time iso={a.expires_at} />
            </dd>
          </>
        )}
        {a.approvals && a.approvals.length > 0 && (
          <>
            <dt>Approved by</dt>
            <dd>
              <ul className="plain">
                {a.approvals.map((x) => (
                  <li key={`${x.by}${x.at}`}>
                    {x.by} <Time iso={x.at} relative />
                    {x.comment && <span className="muted"> — {x.comment}</span>}
                  </li>
                ))}
              </ul>
            </dd>
          </>
        )}
        {a.decided_by && (
          <>
            <dt>Decided by</dt>
            <dd>
              {a.decided_by} <Time iso={a.decided_at} relative />
              {a.decision_comment && <span className="muted"> — {a.decision_comment}</span>}
            </dd>
          </>
        )}
        {(!isPending || a.result || a.error) && (
          <>
            <dt>{a.dry_run ? 'Dry-run result' : 'Result'}</dt>
            <dd>
              {a.result ? (
                <>
                  <span className="badge">{a.result.status}</span> <span>{a.result.summary}</span>
                  {Object.keys(a.result.details ?? {}).length > 0 && (
                    <details>
                      <summary>Details</summary>
                      <pre>{JSON.stringify(a.result.details, null, 2)}</pre>
                    </details>
                  )}
                </>
              ) : (
                <span className="muted">None</span>
              )}
              {a.error && <p className="error">{a.error}</p>}
            </dd>
          </>
        )}
      </dl>

      {mayRespond && (isPending || mayRollBack) && (
        <div className="decision">
          <label htmlFor={commentId}>Comment (optional, kept in the audit log)</label>
          <textarea
            id={commentId}
            rows={2}
            maxLength={2000}
            value={comment}
            onChange={(e) => setComment(e.target.value)}
          />
          <div className="buttons">
            {isPending &&
              (mine ? (
                <p className="four-eyes">You asked for this: another responder must approve</p>
              ) : approvedByMe ? (
                <p className="four-eyes">You approved this: it waits for another responder</p>
              ) : (
                <button type="button" disabled={decide.isPending} onClick={() => decide.mutate('approve')}>
                  Approve
                </button>
              ))}
            {isPending && (
              <button
                type="button"
                className="danger"
                disabled={decide.isPending}
                onClick={() => decide.mutate('deny')}
              >
                {mine ? 'Withdraw (deny)' : 'Deny'}
              </button>
            )}
            {mayRollBack && (
              <button
                type="button"
                className="secondary"
                disabled={decide.isPending}
                onClick={() => decide.mutate('rollback')}
              >
                Roll back
              </button>
            )}
          </div>
        </div>
      )}
      {decide.error && (
        <p role="alert" className="error">
          The server refused: {errorText(decide.error)}
        </p>
      )}
      <p role="status" className="muted">
        {notice}
      </p>
    </article>
  );
}
