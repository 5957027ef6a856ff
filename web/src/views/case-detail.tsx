import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useId, useMemo, useState } from 'react';
import { ErrorNote } from '../components/b-error.tsx';
import { pathTo, useIdParam, ViewLink } from '../components/b-link.tsx';
import { Severity } from '../components/b-severity.tsx';
import { TableWrap } from '../components/b-table-wrap.tsx';
import { Time } from '../components/b-time.tsx';
import { api } from '../lib/api.ts';
import { useAuth } from '../lib/auth.tsx';
import type { Case, Entity, IncidentDetail, Suppression } from '../lib/types.ts';
import './case-detail.css';

type CaseStatus = Case['status'];
type Resolution = NonNullable<Case['resolution']>;

/** The server's transitions (TRANSITIONS in src/cases/service.ts): the console offers only what it accepts. */
const TRANSITIONS: Record<CaseStatus, CaseStatus[]> = {
  new: ['in_progress', 'resolved', 'closed'],
  in_progress: ['resolved', 'closed', 'new'],
  resolved: ['closed', 'in_progress'],
  closed: ['in_progress'],
};

const RESOLUTIONS: Array<{ value: Resolution; label: string; hint: string }> = [
  { value: 'true_positive', label: 'True positive', hint: 'Malicious activity, confirmed.' },
  { value: 'benign_positive', label: 'Benign positive', hint: 'Real activity, expected or authorised.' },
  {
    value: 'false_positive',
    label: 'False positive',
    hint: 'The detection was wrong; it may be suppressed for one entity.',
  },
];

/** Default and ceiling of a suppression's length without an admin key (`respond.suppressions.max_days`). */
const DEFAULT_DAYS = 30;
const ADMIN_MAX_DAYS = 365;

const label = (s: string) => s.replace(/_/g, ' ');

interface SuppressBody {
  rule_ids: string[];
  entity: { type: string; value: string };
  days: number;
}

interface PatchBody {
  status?: CaseStatus;
  resolution?: Resolution;
  assignee?: string | null;
  suppress?: SuppressBody;
}

/** What a case may suppress on its own authority: the rules that fired in its incident and their entities. */
function ownScope(incident: IncidentDetail | undefined) {
  const rules = new Map<string, string>();
  const entities = new Map<string, Entity>();
  const addEntity = (e: Entity) => {
    const k = `${e.type}:${e.value.toLowerCase()}`;
    if (!entities.has(k)) entities.set(k, e);
  };
  for (const e of incident?.entities ?? []) addEntity(e);
  for (const a of incident?.alerts ?? []) {
    for (const d of a.detections) if (!rules.has(d.rule_id)) rules.set(d.rule_id, d.rule_title);
    for (const e of a.entities) addEntity(e);
  }
  return { rules: [...rules].map(([id, title]) => ({ id, title })), entities: [...entities.values()] };
}

function useCaseMutation<V>(
  id: string,
  run: (v: V) => Promise<Case | { case: Case; suppressions: Suppression[] }>,
) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: run,
    onSuccess: (out) => {
      qc.setQueryData(['case', id], 'case' in out ? out.case : out);
      void qc.invalidateQueries({ queryKey: ['cases'] });
      if ('suppressions' in out && out.suppressions.length)
        void qc.invalidateQueries({ queryKey: ['suppressions'] });
    },
  });
}

/** One case: its state, tasks, comments, observables and timeline; analysts change it and close it. */
export default function CaseDetail() {
  const id = useIdParam();
  const { can } = useAuth();
  const edit = can('analyst');
  const c = useQuery({
    queryKey: ['case', id],
    queryFn: ({ signal }) => api<Case>(`/cases/${encodeURIComponent(id)}`, { signal }),
  });
  const incidentId = c.data?.incident_id;
  const incident = useQuery({
    queryKey: ['incident', incidentId],
    queryFn: ({ signal }) =>
      api<IncidentDetail>(`/incidents/${encodeURIComponent(incidentId ?? '')}`, { signal }),
    enabled: Boolean(incidentId),
  });
  const suppressions = useQuery({
    queryKey: ['suppressions'],
    queryFn: ({ signal }) => api<{ items: Suppression[] }>('/suppressions', { signal }),
  });

  if (c.isPending) return <p className="loading">Loading the case…</p>;
  if (c.error || !c.data)
    return (
      <section>
        <h1>Case</h1>
        <ErrorNote error={c.error} />
      </section>
    );
  const kase = c.data;
  const mine = (suppressions.data?.items ?? []).filter((s) => s.case_id === kase.id);

  return (
    <article className="case-detail" aria-labelledby="case-title">
      <p className="muted">
        <ViewLink to="/cases">Cases</ViewLink> /
      </p>
      <h1 id="case-title" className="b-wrap">
        {kase.title}
      </h1>
      <dl className="case-facts">
        <div>
          <dt>Status</dt>
          <dd>{label(kase.status)}</dd>
        </div>
        <div>
          <dt>Resolution</dt>
          <dd>{kase.resolution ? label(kase.resolution) : '—'}</dd>
        </div>
        <div>
          <dt>Severity</dt>
          <dd>
            <Severity value={kase.severity} />
          </dd>
        </div>
        <div>
          <dt>Assignee</dt>
          <dd>{kase.assignee ?? 'unassigned'}</dd>
        </div>
        <div>
          <dt>Incident</dt>
          <dd>
            {kase.incident_id ? (
              <ViewLink to={pathTo('/incidents', kase.incident_id)}>
                {incident.data?.title ?? 'Open the incident'}
              </ViewLink>
            ) : (
              '—'
            )}
          </dd>
        </div>
        <div>
          <dt>Opened</dt>
          <dd>
            <Time iso={kase.created_at} />
          </dd>
        </div>
        <div>
          <dt>Updated</dt>
          <dd>
            <Time iso={kase.updated_at} />
          </dd>
        </div>
        {kase.closed_at && (
          <div>
            <dt>Closed</dt>
            <dd>
              <Time iso={kase.closed_at} />
            </dd>
          </div>
        )}
      </dl>
      {kase.description && <p className="b-pre-text">{kase.description}</p>}

      {edit && (
        <div className="grid">
          <StateEditor kase={kase} />
          <CloseCase kase={kase} incident={incident.data} incidentError={incident.error} />
        </div>
      )}

      <Suppressions items={mine} error={suppressions.error} />
      <Tasks kase={kase} edit={edit} />
      <Comments kase={kase} edit={edit} />
      <Observables kase={kase} />
      <Timeline kase={kase} />
    </article>
  );
}

function StateEditor({ kase }: { kase: Case }) {
  const ids = useId();
  const next = TRANSITIONS[kase.status].filter((s) => s !== 'closed');
  const [status, setStatus] = useState<CaseStatus | ''>('');
  const [assignee, setAssignee] = useState(kase.assignee ?? '');
  const patch = useCaseMutation(kase.id, (body: PatchBody) =>
    api<{ case: Case; suppressions: Suppression[] }>(`/cases/${kase.id}`, { method: 'PATCH', body }),
  );

  function saveStatus(e: FormEvent) {
    e.preventDefault();
    if (status) patch.mutate({ status }, { onSuccess: () => setStatus('') });
  }
  function saveAssignee(e: FormEvent) {
    e.preventDefault();
    const v = assignee.trim();
    patch.mutate({ assignee: v === '' ? null : v });
  }

  return (
    <section className="panel" aria-labelledby={`${ids}-h`}>
      <h2 id={`${ids}-h`}>Status and assignee</h2>
      {next.length > 0 && (
        <form className="b-actions" onSubmit={saveStatus}>
          <span className="b-field">
            <label htmlFor={`${ids}-status`}>Move to</label>
            <select
              id={`${ids}-status`}
              value={status}
              onChange={(e) => setStatus(e.target.value as CaseStatus | '')}
            >
              <option value="">Choose a status</option>
              {next.map((s) => (
                <option key={s} value={s}>
                  {s === 'in_progress' && kase.status === 'closed' ? 'in progress (reopen)' : label(s)}
                </option>
              ))}
            </select>
          </span>
          <button type="submit" disabled={!status || patch.isPending}>
            Change status
          </button>
        </form>
      )}
      <form className="b-actions" onSubmit={saveAssignee}>
        <span className="b-field">
          <label htmlFor={`${ids}-assignee`}>Assignee</label>
          <input
            id={`${ids}-assignee`}
            value={assignee}
            maxLength={128}
            onChange={(e) => setAssignee(e.target.value)}
            placeholder="unassigned"
          />
        </span>
        <button
          type="submit"
          className="secondary"
          disabled={patch.isPending || assignee.trim() === (kase.assignee ?? '')}
        >
          Save assignee
        </button>
      </form>
      <ErrorNote error={patch.error} />
    </section>
  );
}

/**
 * Closing with a resolution. A false positive may suppress the case's rules for one of its entities; the
 * analyst sees exactly which rules, which entity and until when before confirming, and afterwards the
 * suppressions the server created.
 */
function CloseCase({
  kase,
  incident,
  incidentError,
}: {
  kase: Case;
  incident: IncidentDetail | undefined;
  incidentError: unknown;
}) {
  const ids = useId();
  const { can } = useAuth();
  const scope = useMemo(() => ownScope(incident), [incident]);
  const [resolution, setResolution] = useState<Resolution | ''>(kase.resolution ?? '');
  const [suppress, setSuppress] = useState(true);
  const [entityKey, setEntityKey] = useState('');
  const [ruleIds, setRuleIds] = useState<string[] | null>(null);
  const [days, setDays] = useState(DEFAULT_DAYS);
  const [review, setReview] = useState(false);
  const [done, setDone] = useState<Suppression[] | null>(null);
  const close = useCaseMutation(kase.id, (body: PatchBody) =>
    api<{ case: Case; suppressions: Suppression[] }>(`/cases/${kase.id}`, { method: 'PATCH', body }),
  );

  const entityOptions = scope.entities.map((e, i) => ({ key: String(i), entity: e }));
  const entity = entityOptions.find((o) => o.key === entityKey)?.entity ?? scope.entities[0];
  const rules = ruleIds ?? scope.rules.map((r) => r.id);
  const canSuppress = scope.rules.length > 0 && scope.entities.length > 0;
  const suppressing = resolution === 'false_positive' && suppress && canSuppress;
  const maxDays = can('admin') ? ADMIN_MAX_DAYS : DEFAULT_DAYS;
  const daysValid = Number.isInteger(days) && days >= 1 && days <= maxDays;
  const ready = resolution !== '' && (!suppressing || (entity && rules.length > 0 && daysValid));

  const body: PatchBody = { status: 'closed', resolution: resolution || undefined };
  if (suppressing && entity)
    body.suppress = { rule_ids: rules, entity: { type: entity.type, value: entity.value }, days };
  const until = new Date(Date.now() + days * 86_400_000).toISOString();
  const titleOf = (rule: string) => scope.rules.find((r) => r.id === rule)?.title;

  function toggleRule(id: string, on: boolean) {
    setRuleIds(on ? [...new Set([...rules, id])] : rules.filter((r) => r !== id));
  }

  if (done)
    return (
      <section className="panel" aria-labelledby={`${ids}-h`}>
        <h2 id={`${ids}-h`}>Case closed</h2>
        <p role="status">
          Closed as {label(kase.resolution ?? resolution)}.{' '}
          {done.length ? `${done.length} suppression(s) created:` : 'No suppression was created.'}
        </p>
        {done.length > 0 && <SuppressionTable items={done} caption="Suppressions created by closing" />}
      </section>
    );

  // A closed case offers reopening (the status editor), not closing; the result of closing it here stays.
  if (kase.status === 'closed') return null;

  return (
    <section className="panel" aria-labelledby={`${ids}-h`}>
      <h2 id={`${ids}-h`}>Close the case</h2>
      {!review ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (ready) setReview(true);
          }}
        >
          <fieldset>
            <legend>Resolution</legend>
            {RESOLUTIONS.map((r) => (
              <div key={r.value} className="case-radio">
                <input
                  type="radio"
                  id={`${ids}-${r.value}`}
                  name={`${ids}-resolution`}
                  value={r.value}
                  checked={resolution === r.value}
                  onChange={() => setResolution(r.value)}
                  aria-describedby={`${ids}-${r.value}-hint`}
                />
                <label htmlFor={`${ids}-${r.value}`}>{r.label}</label>{' '}
                <span id={`${ids}-${r.value}-hint`} className="hint">
                  {r.hint}
                </span>
              </div>
            ))}
          </fieldset>
          {resolution === 'false_positive' && (
            <fieldset>
              <legend>Suppression</legend>
              {incidentError ? <ErrorNote error={incidentError} /> : null}
              {!canSuppress ? (
                <p className="hint">
                  {incident
                    ? "This case's incident has no rule and entity to suppress: it closes without a suppression."
                    : !kase.incident_id
                      ? 'This case has no incident: it closes without a suppression.'
                      : incidentError
                        ? 'Without its incident, the rules and entities to suppress are unknown: it closes without a suppression.'
                        : 'Loading the rules and entities of the incident…'}
                </p>
              ) : (
                <>
                  <div className="case-radio">
                    <input
                      type="checkbox"
                      id={`${ids}-suppress`}
                      checked={suppress}
                      onChange={(e) => setSuppress(e.target.checked)}
                    />
                    <label htmlFor={`${ids}-suppress`}>
                      Suppress this case's rules for one of its entities
                    </label>
                  </div>
                  {suppress && (
                    <>
                      <fieldset className="case-rules">
                        <legend>Rules to suppress</legend>
                        {scope.rules.map((r) => (
                          <div key={r.id} className="case-radio">
                            <input
                              type="checkbox"
                              id={`${ids}-rule-${r.id}`}
                              checked={rules.includes(r.id)}
                              onChange={(e) => toggleRule(r.id, e.target.checked)}
                            />
                            <label htmlFor={`${ids}-rule-${r.id}`} className="b-wrap">
                              {r.title} <code>{r.id}</code>
                            </label>
                          </div>
                        ))}
                      </fieldset>
                      <div className="b-filters">
                        <span className="b-field">
                          <label htmlFor={`${ids}-entity`}>Entity</label>
                          <select
                            id={`${ids}-entity`}
                            value={entityOptions.find((o) => o.entity === entity)?.key ?? ''}
                            onChange={(e) => setEntityKey(e.target.value)}
                          >
                            {entityOptions.map((o) => (
                              <option key={o.key} value={o.key}>
                                {o.entity.type}: {o.entity.value}
                              </option>
                            ))}
                          </select>
                        </span>
                        <span className="b-field">
                          <label htmlFor={`${ids}-days`}>Days</label>
                          <input
                            id={`${ids}-days`}
                            type="number"
                            min={1}
                            max={maxDays}
                            step={1}
                            value={Number.isNaN(days) ? '' : days}
                            onChange={(e) => setDays(e.target.valueAsNumber)}
                            aria-invalid={!daysValid}
                            aria-describedby={`${ids}-days-hint`}
                          />
                        </span>
                      </div>
                      <p id={`${ids}-days-hint`} className="hint">
                        1 to {maxDays} days.{' '}
                        {maxDays === ADMIN_MAX_DAYS
                          ? `Beyond respond.suppressions.max_days (default ${DEFAULT_DAYS}) only on an admin's authority.`
                          : `The server's limit is respond.suppressions.max_days (default ${DEFAULT_DAYS}).`}
                      </p>
                    </>
                  )}
                </>
              )}
            </fieldset>
          )}
          <button type="submit" disabled={!ready}>
            Review closing
          </button>
        </form>
      ) : (
        <div className="case-review">
          <h3>Confirm closing</h3>
          <p>
            The case closes as <strong>{label(resolution)}</strong>
            {kase.incident_id ? ', and its incident closes with it.' : '.'}
          </p>
          {body.suppress ? (
            <div className="case-suppress-preview">
              <h4>Suppression to be created</h4>
              <p>
                This creates {body.suppress.rule_ids.length} suppression(s), scoped to this case: alerts of{' '}
                {body.suppress.rule_ids.length === 1 ? 'this rule' : 'these rules'} about{' '}
                <strong>
                  {body.suppress.entity.type} {body.suppress.entity.value}
                </strong>{' '}
                are suppressed for <strong>{body.suppress.days} day(s)</strong>, until <Time iso={until} />.
              </p>
              <ul>
                {body.suppress.rule_ids.map((r) => (
                  <li key={r} className="b-wrap">
                    {titleOf(r) ?? r} <code>{r}</code>
                  </li>
                ))}
              </ul>
              <p className="hint">Other rules, and other entities, keep alerting.</p>
            </div>
          ) : (
            <p>No suppression is created.</p>
          )}
          <div className="b-actions">
            <button
              type="button"
              className={body.suppress ? 'danger' : undefined}
              disabled={close.isPending}
              onClick={() =>
                close.mutate(body, {
                  onSuccess: (out) => setDone('suppressions' in out ? out.suppressions : []),
                })
              }
            >
              {close.isPending ? 'Closing…' : body.suppress ? 'Close and suppress' : 'Close the case'}
            </button>
            <button type="button" className="secondary" onClick={() => setReview(false)}>
              Back
            </button>
          </div>
          <ErrorNote error={close.error} />
        </div>
      )}
    </section>
  );
}

function SuppressionTable({ items, caption }: { items: Suppression[]; caption: string }) {
  return (
    <TableWrap label={`Table: ${caption}`}>
      <table>
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Rule</th>
            <th scope="col">Entity</th>
            <th scope="col">Expires</th>
            <th scope="col">By</th>
          </tr>
        </thead>
        <tbody>
          {items.map((s) => (
            <tr key={s.id}>
              <td className="b-wrap">
                <code>{s.rule_id}</code>
              </td>
              <td className="b-wrap">
                {s.entity_type}: {s.entity_value}
              </td>
              <td>
                <Time iso={s.expires_at} />
              </td>
              <td>{s.created_by}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}

function Suppressions({ items, error }: { items: Suppression[]; error: unknown }) {
  if (!items.length && !error) return null;
  return (
    <section aria-labelledby="case-suppressions">
      <h2 id="case-suppressions">Active suppressions from this case</h2>
      <ErrorNote error={error} />
      {items.length > 0 && <SuppressionTable items={items} caption="Active suppressions from this case" />}
    </section>
  );
}

function Tasks({ kase, edit }: { kase: Case; edit: boolean }) {
  const ids = useId();
  const [title, setTitle] = useState('');
  const add = useCaseMutation(kase.id, (t: string) =>
    api<Case>(`/cases/${kase.id}/tasks`, { method: 'POST', body: { title: t } }),
  );
  const set = useCaseMutation(kase.id, (v: { task: string; status: 'open' | 'done' }) =>
    api<Case>(`/cases/${kase.id}/tasks/${encodeURIComponent(v.task)}`, {
      method: 'PATCH',
      body: { status: v.status },
    }),
  );
  return (
    <section aria-labelledby={`${ids}-h`}>
      <h2 id={`${ids}-h`}>
        Tasks ({kase.tasks.filter((t) => t.status === 'done').length}/{kase.tasks.length} done)
      </h2>
      <ul className="case-tasks">
        {kase.tasks.map((t) => (
          <li key={t.id} className={t.status === 'done' ? 'done' : undefined}>
            <span className="case-task-state">{t.status === 'done' ? '✓ done' : 'open'}</span>{' '}
            <span className="b-wrap">{t.title}</span>
            {t.assignee && <span className="muted"> — {t.assignee}</span>}
            {edit && (
              <button
                type="button"
                className="secondary"
                disabled={set.isPending}
                onClick={() => set.mutate({ task: t.id, status: t.status === 'done' ? 'open' : 'done' })}
                aria-label={`${t.status === 'done' ? 'Reopen' : 'Mark done'}: ${t.title}`}
              >
                {t.status === 'done' ? 'Reopen' : 'Mark done'}
              </button>
            )}
          </li>
        ))}
      </ul>
      <ErrorNote error={set.error} />
      {edit && (
        <form
          className="b-actions"
          onSubmit={(e) => {
            e.preventDefault();
            if (title.trim()) add.mutate(title.trim(), { onSuccess: () => setTitle('') });
          }}
        >
          <span className="b-field">
            <label htmlFor={`${ids}-new`}>New task</label>
            <input
              id={`${ids}-new`}
              value={title}
              maxLength={500}
              onChange={(e) => setTitle(e.target.value)}
            />
          </span>
          <button type="submit" disabled={!title.trim() || add.isPending}>
            Add task
          </button>
          <ErrorNote error={add.error} />
        </form>
      )}
    </section>
  );
}

function Comments({ kase, edit }: { kase: Case; edit: boolean }) {
  const ids = useId();
  const [text, setText] = useState('');
  const add = useCaseMutation(kase.id, (t: string) =>
    api<Case>(`/cases/${kase.id}/comments`, { method: 'POST', body: { text: t } }),
  );
  return (
    <section aria-labelledby={`${ids}-h`}>
      <h2 id={`${ids}-h`}>Comments ({kase.comments.length})</h2>
      {kase.comments.length === 0 && <p className="muted">No comment yet.</p>}
      <ol className="case-comments">
        {kase.comments.map((m) => (
          <li key={m.id}>
            <p className="muted">
              {m.author}, <Time iso={m.created_at} />
            </p>
            <p className="b-pre-text">{m.text}</p>
          </li>
        ))}
      </ol>
      {edit && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (text.trim()) add.mutate(text, { onSuccess: () => setText('') });
          }}
        >
          <div className="b-field">
            <label htmlFor={`${ids}-new`}>New comment</label>
            <textarea
              id={`${ids}-new`}
              rows={3}
              maxLength={20_000}
              value={text}
              onChange={(e) => setText(e.target.value)}
            />
          </div>
          <button type="submit" disabled={!text.trim() || add.isPending}>
            Add comment
          </button>
          <ErrorNote error={add.error} />
        </form>
      )}
    </section>
  );
}

function Observables({ kase }: { kase: Case }) {
  return (
    <section aria-labelledby="case-observables">
      <h2 id="case-observables">Observables ({kase.observables.length})</h2>
      {kase.observables.length === 0 ? (
        <p className="muted">No observable.</p>
      ) : (
        <TableWrap label="Observable list">
          <table>
            <thead>
              <tr>
                <th scope="col">Type</th>
                <th scope="col">Value</th>
                <th scope="col">IOC</th>
                <th scope="col">Event</th>
              </tr>
            </thead>
            <tbody>
              {kase.observables.map((o) => (
                <tr key={`${o.type}:${o.value}:${o.event_id ?? ''}`}>
                  <td>{o.type}</td>
                  <td className="b-wrap">
                    <code>{o.value}</code>
                  </td>
                  <td>{o.ioc ? 'yes' : 'no'}</td>
                  <td>
                    {o.event_id ? <ViewLink to={pathTo('/events', o.event_id)}>View event</ViewLink> : '—'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
    </section>
  );
}

function Timeline({ kase }: { kase: Case }) {
  return (
    <section aria-labelledby="case-timeline">
      <h2 id="case-timeline">Timeline</h2>
      <TableWrap label="Timeline entries">
        <table>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">What</th>
              <th scope="col">Detail</th>
            </tr>
          </thead>
          <tbody>
            {[...kase.timeline].reverse().map((t, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: the timeline is append-only, so a position from its start is stable.
              <tr key={kase.timeline.length - i}>
                <td>
                  <Time iso={t.at} />
                </td>
                <td>{t.actor}</td>
                <td>{t.action}</td>
                <td className="b-wrap">{t.detail ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableWrap>
    </section>
  );
}
