import type { Logger } from 'pino';
import { AisocError } from '../errors.ts';
import { uuidv7 } from '../ids.ts';
import { parseIp } from '../net/ip.ts';
import type { Case, CaseComment, CaseTask, TimelineEntry } from '../schema/case.ts';
import type { Incident } from '../schema/incident.ts';
import type { Suppression } from '../schema/response.ts';
import type { Store } from '../store/index.ts';
import { findUnsafeText } from '../store/json.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { casesMetrics } from './metrics.ts';
import { extractObservables } from './observables.ts';

export type CaseStatus = Case['status'];
export type CaseResolution = NonNullable<Case['resolution']>;

const TRANSITIONS: Record<CaseStatus, CaseStatus[]> = {
  new: ['in_progress', 'resolved', 'closed'],
  in_progress: ['resolved', 'closed', 'new'],
  resolved: ['closed', 'in_progress'],
  closed: ['in_progress'],
};

/** Starting tasks of every case, in the order responders work. */
export const DEFAULT_TASKS = [
  'Confirm the activity and its scope',
  'Contain the affected identities and hosts',
  'Eradicate persistence and rotate credentials',
  'Recover and document lessons learnt',
];

export interface SuppressOptions {
  /** Rules to suppress; default: every rule of the incident's alerts. */
  rule_ids?: string[];
  entity: { type: string; value: string };
  days: number;
}

export interface CaseServiceOptions {
  /** `respond.suppressions.max_days`: the longest suppression a case creates without an admin (default 30). */
  suppressionMaxDays?: number;
  /** Where cases opened and the time to close them are counted (`casesMetrics`). */
  metrics?: Metrics;
}

/** Longest suppression anyone may create, admin included. */
export const SUPPRESSION_HARD_MAX_DAYS = 365;

export interface CaseHooks {
  /** Called once a case closes (the knowledge base indexes it into the `incidents` collection). */
  onClosed?: (c: Case, incident: Incident | undefined) => Promise<void>;
}

/**
 * Case management: one open case per incident, status with resolutions,
 * tasks, observables (IOCs from the events), comments and a timeline; every
 * change is audited. Closing a case as a false positive can create a
 * suppression that detection honours.
 */
export class CaseService {
  private readonly suppressionMaxDays: number;
  private readonly metrics?: ReturnType<typeof casesMetrics>;

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly hooks: CaseHooks = {},
    options: CaseServiceOptions = {},
  ) {
    this.suppressionMaxDays = options.suppressionMaxDays ?? 30;
    if (options.metrics) this.metrics = casesMetrics(options.metrics);
  }

  /**
   * Open the case of an incident, or return the open one (refreshing its
   * observables). `origin` names what asks (a playbook run and step): the
   * case it opened before is returned, even closed, so a second pass over
   * the same step never opens a second case. Safe with several workers: one
   * open case per incident and one case per origin are unique indexes, and
   * the refresh never overwrites a change made since it read the case.
   */
  async openForIncident(
    incidentId: string,
    actor: string,
    opts: { origin?: string } = {},
  ): Promise<{ case: Case; created: boolean }> {
    if (opts.origin) {
      const mine = await this.store.cases.byOrigin(opts.origin);
      if (mine) return { case: mine, created: false };
    }
    const incident = await this.store.incidents.get(incidentId);
    if (!incident)
      throw new AisocError('AISOC_ERR_NOT_FOUND', `No incident ${incidentId}`, { field: 'incident_id' });
    const alerts = await this.store.alerts.getMany(incident.alert_ids.slice(0, 200));
    const eventIds = [...new Set(alerts.flatMap((a) => a.event_ids))].slice(0, 2000);
    const observables = extractObservables(await this.store.events.getMany(eventIds));
    const existing = await this.store.cases.openForIncident(incidentId);
    if (existing) return { case: await this.addObservables(existing, observables, actor), created: false };
    const now = new Date().toISOString();
    const c: Case = {
      id: uuidv7(),
      incident_id: incidentId,
      title: incident.title,
      description: `Opened from incident ${incidentId} (${incident.alert_count} alert(s), priority ${incident.priority}).`,
      status: 'new',
      severity: incident.severity,
      tasks: DEFAULT_TASKS.map((title) => ({ id: uuidv7(), title, status: 'open' as const })),
      observables,
      comments: [],
      timeline: [{ at: now, actor, action: 'case.created', detail: `from incident ${incidentId}` }],
      created_at: now,
      updated_at: now,
    };
    try {
      await this.store.transaction(async (tx) => {
        await tx.cases.insert(c, opts.origin);
        // In place: correlation may have added alerts to the incident since it was read above.
        await tx.incidents.patch(incidentId, { case_id: c.id, status: 'investigating' }, now);
      });
    } catch (err) {
      // Another worker opened it first (one open case per incident, one per origin: unique indexes): use theirs.
      const theirs =
        (opts.origin ? await this.store.cases.byOrigin(opts.origin) : undefined) ??
        (await this.store.cases.openForIncident(incidentId));
      if (theirs) return { case: theirs, created: false };
      throw err;
    }
    this.metrics?.opened.inc({ severity: c.severity });
    await this.audit(actor, 'case.create', c.id, undefined, {
      incident_id: incidentId,
      observables: observables.length,
      ...(opts.origin ? { origin: opts.origin } : {}),
    });
    return { case: c, created: true };
  }

  /**
   * Add the observables a case lacks, with a timeline entry. A compare-and-set
   * on the case: if someone changed it since it was read, read it again and
   * add what is still missing, never writing back an older case.
   */
  private async addObservables(c: Case, observables: Case['observables'], actor: string): Promise<Case> {
    let current: Case | undefined = c;
    for (let attempt = 0; current && attempt < 5; attempt++) {
      const known = new Set(current.observables.map((o) => `${o.type}:${o.value.toLowerCase()}`));
      const added = observables.filter((o) => !known.has(`${o.type}:${o.value.toLowerCase()}`));
      if (added.length === 0) return current;
      const now = new Date(Math.max(Date.now(), Date.parse(current.updated_at) + 1)).toISOString();
      const updated: Case = {
        ...current,
        observables: [...current.observables, ...added],
        timeline: [
          ...current.timeline,
          {
            at: now,
            actor,
            action: 'observables.added',
            detail: `${added.length} new observable(s) from the incident`,
          },
        ],
        updated_at: now,
      };
      if (await this.store.cases.replace(updated, current.updated_at)) return updated;
      current = await this.store.cases.get(c.id);
    }
    // Others keep changing it: the observables wait for the next pass rather than overwrite them.
    return current ?? c;
  }

  async get(id: string): Promise<Case> {
    const c = await this.store.cases.get(id);
    if (!c) throw new AisocError('AISOC_ERR_NOT_FOUND', `No case ${id}`, { field: 'id' });
    return c;
  }

  /**
   * Change status, assignee or resolution. Closing needs a resolution; a
   * false positive may carry `suppress` to silence the case's rules for one
   * of its entities, for at most `respond.suppressions.max_days`. Anything
   * wider (another rule or entity, or longer, up to 365 days) needs
   * `who.admin`: a false positive on one case must not silence detection
   * elsewhere.
   */
  async update(
    id: string,
    patch: {
      status?: CaseStatus;
      assignee?: string | null;
      resolution?: CaseResolution;
      title?: string;
      description?: string;
      suppress?: SuppressOptions;
    },
    actor: string,
    who: { admin: boolean } = { admin: false },
  ): Promise<{ case: Case; suppressions: Suppression[] }> {
    const c = await this.get(id);
    const now = new Date().toISOString();
    const timeline: TimelineEntry[] = [];
    const next: Case = { ...c, updated_at: now };
    if (patch.status && patch.status !== c.status) {
      if (!TRANSITIONS[c.status].includes(patch.status)) {
        throw new AisocError('AISOC_ERR_CONFLICT', `A ${c.status} case cannot become ${patch.status}`, {
          field: 'status',
        });
      }
      if (patch.status === 'closed' && !(patch.resolution ?? c.resolution)) {
        throw new AisocError(
          'AISOC_ERR_VALIDATION',
          'Closing a case needs a resolution: true_positive, benign_positive or false_positive',
          { field: 'resolution' },
        );
      }
      next.status = patch.status;
      timeline.push({ at: now, actor, action: 'status', detail: `${c.status} → ${patch.status}` });
      if (patch.status === 'closed') next.closed_at = now;
      else delete next.closed_at;
    }
    if (patch.resolution && patch.resolution !== c.resolution) {
      next.resolution = patch.resolution;
      timeline.push({ at: now, actor, action: 'resolution', detail: patch.resolution });
    }
    if (patch.assignee !== undefined && patch.assignee !== (c.assignee ?? null)) {
      if (patch.assignee === null) delete next.assignee;
      else next.assignee = patch.assignee;
      timeline.push({ at: now, actor, action: 'assignee', detail: patch.assignee ?? 'unassigned' });
    }
    if (patch.title) next.title = patch.title;
    if (patch.description !== undefined) next.description = patch.description;
    if (patch.suppress && next.resolution !== 'false_positive') {
      throw new AisocError(
        'AISOC_ERR_VALIDATION',
        'Only a case resolved as false_positive can create a suppression',
        { field: 'suppress' },
      );
    }
    const suppressions: Suppression[] = [];
    let wider: string[] = [];
    if (patch.suppress) {
      const s = patch.suppress;
      const bad = findUnsafeText(s, 'suppress');
      if (bad)
        throw new AisocError('AISOC_ERR_VALIDATION', `${bad.field} ${bad.problem}`, { field: bad.field });
      if (!(Number.isInteger(s.days) && s.days > 0 && s.days <= SUPPRESSION_HARD_MAX_DAYS))
        throw new AisocError(
          'AISOC_ERR_VALIDATION',
          `suppress.days must be a whole number between 1 and ${SUPPRESSION_HARD_MAX_DAYS}`,
          { field: 'suppress.days' },
        );
      const own = await this.ownScope(c);
      let rules = s.rule_ids;
      if (!rules?.length) rules = [...own.rules];
      if (!rules.length)
        throw new AisocError('AISOC_ERR_VALIDATION', 'No rule to suppress: give suppress.rule_ids', {
          field: 'suppress.rule_ids',
        });
      const foreignRules = rules.filter((r) => !own.rules.has(r));
      const ownEntity = own.entities.has(entityKeyOf(s.entity.type, s.entity.value));
      const checks: Array<[boolean, string, string]> = [
        [
          s.days > this.suppressionMaxDays,
          'suppress.days',
          `${s.days} days is longer than respond.suppressions.max_days (${this.suppressionMaxDays})`,
        ],
        [
          foreignRules.length > 0,
          'suppress.rule_ids',
          `rule(s) ${foreignRules.join(', ')} did not fire in this case`,
        ],
        [!ownEntity, 'suppress.entity', `${s.entity.type} ${s.entity.value} is not an entity of this case`],
      ];
      wider = checks.filter(([wide]) => wide).map(([, field]) => field);
      const first = checks.find(([wide]) => wide);
      if (first && !who.admin)
        throw new AisocError(
          'AISOC_ERR_FORBIDDEN',
          `A case may suppress only its own rules, for its own entities, for at most ${this.suppressionMaxDays} days; ${first[2]}, which needs an admin key`,
          { field: first[1], details: { wider } },
        );
      for (const rule of rules) {
        suppressions.push({
          id: uuidv7(),
          rule_id: rule,
          entity_type: s.entity.type,
          entity_value: s.entity.value,
          expires_at: new Date(Date.now() + s.days * 86_400_000).toISOString(),
          reason: `Case ${c.id} closed as false positive`,
          created_by: actor,
          case_id: c.id,
          created_at: now,
        });
      }
      timeline.push({
        at: now,
        actor,
        action: 'suppression',
        detail: `${rules.join(', ')} for ${s.entity.type} ${s.entity.value}, ${s.days} day(s)`,
      });
    }
    next.timeline = [...c.timeline, ...timeline];
    await this.store.transaction(async (tx) => {
      await tx.cases.upsert(next);
      for (const s of suppressions) await tx.suppressions.insert(s);
      if (next.status === 'closed' && c.status !== 'closed' && c.incident_id) {
        // In place: correlation may be adding alerts to the incident meanwhile.
        await tx.incidents.patch(c.incident_id, { status: 'closed' }, now);
      }
    });
    await this.audit(actor, 'case.update', id, undefined, {
      changes: timeline.map((t) => `${t.action}: ${t.detail}`),
    });
    for (const s of suppressions) {
      await this.audit(actor, 'suppression.create', s.id, s.reason, {
        rule_id: s.rule_id,
        entity: `${s.entity_type}:${s.entity_value}`,
        expires_at: s.expires_at,
        case_id: id,
        // What went beyond the case's own rules, entities and the default length, on an admin's authority.
        ...(wider.length ? { wider_than_case: wider } : {}),
      });
    }
    if (next.status === 'closed' && c.status !== 'closed') {
      this.metrics?.timeToClose.observe(
        { resolution: next.resolution ?? 'none' },
        Math.max(0, (Date.parse(now) - Date.parse(c.created_at)) / 1000),
      );
      try {
        await this.hooks.onClosed?.(
          next,
          c.incident_id ? await this.store.incidents.get(c.incident_id) : undefined,
        );
      } catch (err) {
        this.logger.warn(
          { case: id, err: (err as Error).message },
          'A closed case could not be indexed into the knowledge base.',
        );
      }
    }
    return { case: next, suppressions };
  }

  /** The rules that fired in a case's incident and the entities they were about (alerts' and incident's). */
  private async ownScope(c: Case): Promise<{ rules: Set<string>; entities: Set<string> }> {
    const incident = c.incident_id ? await this.store.incidents.get(c.incident_id) : undefined;
    const alerts = incident ? await this.store.alerts.getMany(incident.alert_ids) : [];
    const rules = new Set(alerts.flatMap((a) => a.detections.map((d) => d.rule_id)));
    const entities = new Set(
      [...(incident?.entities ?? []), ...alerts.flatMap((a) => a.entities)].map((e) =>
        entityKeyOf(e.type, e.value),
      ),
    );
    return { rules, entities };
  }

  async comment(id: string, author: string, text: string): Promise<Case> {
    if (!text.trim()) throw new AisocError('AISOC_ERR_VALIDATION', 'The comment is empty', { field: 'text' });
    const c = await this.get(id);
    const now = new Date().toISOString();
    const comment: CaseComment = { id: uuidv7(), author, text, created_at: now };
    const next: Case = {
      ...c,
      comments: [...c.comments, comment],
      timeline: [...c.timeline, { at: now, actor: author, action: 'comment' }],
      updated_at: now,
    };
    await this.store.cases.upsert(next);
    await this.audit(author, 'case.comment', id, undefined, { comment_id: comment.id });
    return next;
  }

  async addTask(id: string, actor: string, title: string, assignee?: string): Promise<Case> {
    const c = await this.get(id);
    const now = new Date().toISOString();
    const task: CaseTask = { id: uuidv7(), title, status: 'open', ...(assignee ? { assignee } : {}) };
    const next: Case = {
      ...c,
      tasks: [...c.tasks, task],
      timeline: [...c.timeline, { at: now, actor, action: 'task.added', detail: title }],
      updated_at: now,
    };
    await this.store.cases.upsert(next);
    await this.audit(actor, 'case.task', id, undefined, { task: title });
    return next;
  }

  async setTask(id: string, actor: string, taskId: string, status: 'open' | 'done'): Promise<Case> {
    const c = await this.get(id);
    const task = c.tasks.find((t) => t.id === taskId);
    if (!task)
      throw new AisocError('AISOC_ERR_NOT_FOUND', `No task ${taskId} in case ${id}`, { field: 'task_id' });
    const now = new Date().toISOString();
    const next: Case = {
      ...c,
      tasks: c.tasks.map((t) => (t.id === taskId ? { ...t, status } : t)),
      timeline: [...c.timeline, { at: now, actor, action: `task.${status}`, detail: task.title }],
      updated_at: now,
    };
    await this.store.cases.upsert(next);
    await this.audit(actor, 'case.task', id, undefined, { task: task.title, status });
    return next;
  }

  private audit(
    actor: string,
    action: string,
    id: string,
    reason: string | undefined,
    details: Record<string, unknown>,
  ) {
    return this.store.audit.append({
      actor,
      action,
      target_type: action.startsWith('suppression') ? 'suppression' : 'case',
      target_id: id,
      reason,
      details,
    });
  }
}

/** How an entity is compared: type, then the value case-insensitively, an address in its canonical form. */
function entityKeyOf(type: string, value: string): string {
  const v = value.trim();
  const canonical = type === 'ip' ? (parseIp(v)?.text ?? v.toLowerCase()) : v.toLowerCase();
  return `${type}:${canonical}`;
}
