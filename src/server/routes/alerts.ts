import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { scorePriority } from '../../analyst/priority.ts';
import { Alert, AlertStatus } from '../../schema/alert.ts';
import { SeverityName } from '../../schema/common.ts';
import { NormalisedEvent } from '../../schema/event.ts';
import { StoredVerdict } from '../../schema/verdict.ts';
import type { ServerDeps } from '../deps.ts';
import {
  csvEnum,
  csvOf,
  ErrorBody,
  IdParam,
  jsonWithArray,
  notFound,
  Paging,
  queryText,
  sendJsonText,
  TimeRange,
} from './common.ts';

/** Source type names as the registry spells them (`cloudtrail`, `vpc_flow`, `aws.guardduty`). */
export const SOURCE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** An ATT&CK technique id, any case (`t1078.004` is read as `T1078.004`). */
export const TECHNIQUE_ID = /^T\d{4}(\.\d{3})?$/i;

export const AlertQuery = z.object({
  ...TimeRange,
  severity: csvEnum(SeverityName.options, 'severity').optional(),
  min_severity: SeverityName.optional().describe('Only alerts at or above this severity'),
  status: csvEnum(AlertStatus.options, 'status').optional(),
  rule: z.string().max(256).optional().describe('Rule id that must be among the detections'),
  source: csvOf(SOURCE_NAME, 'source type', 50)
    .optional()
    .describe('Comma-separated source types (any of), e.g. cloudtrail,wazuh'),
  technique: csvOf(TECHNIQUE_ID, 'ATT&CK technique id', 50)
    .optional()
    .describe(
      'Comma-separated ATT&CK technique ids (any of); a technique matches its sub-techniques too (T1078 matches T1078.004)',
    ),
  entity: queryText(
    1024,
    'An entity value among the alert’s entities (user, IP, host, key, …), whole value, any case',
  ).optional(),
  q: queryText(256, 'Text the title contains, any case').optional(),
  sort: z
    .enum(['priority', 'time'])
    .default('priority')
    .describe('Sort by priority (default) or by last event time'),
  order: z.enum(['asc', 'desc']).default('desc'),
  ...Paging,
});

/** Statuses a person sets; `suppressed` belongs to suppressions. */
export const SettableAlertStatus = z.enum(['new', 'acknowledged', 'in_progress', 'closed'], {
  error: () =>
    'must be new, acknowledged, in_progress or closed (suppressed is set by suppressions, never by hand)',
});

export const AlertPatch = z.strictObject({
  status: SettableAlertStatus,
  comment: z.string().max(2000).optional().describe('Why, kept in the audit log'),
});

export const PriorityBreakdown = z
  .object({
    score: z.number(),
    components: z.array(z.object({ factor: z.string(), points: z.number(), reason: z.string() })),
  })
  .describe(
    'The priority as triage computes it now (scorePriority): detections, configured assets, incident size and the latest verdict',
  );

export function alertRoutes(deps: ServerDeps): FastifyPluginAsyncZod {
  const { store, config } = deps.runtime;
  return async (app) => {
    app.get(
      '/alerts',
      {
        config: { scope: 'read' },
        schema: {
          summary:
            'List alerts (by priority unless sort=time), by time, severity, status, rule, source, technique, entity and title text',
          tags: ['alerts'],
          querystring: AlertQuery,
          response: { 200: z.object({ items: z.array(Alert), total: z.number() }), 400: ErrorBody },
        },
      },
      async (req) => store.alerts.list(req.query),
    );

    app.get(
      '/alerts/:id',
      {
        config: { scope: 'read' },
        schema: {
          summary: 'One alert, with its events (first 100), latest verdict and how its priority is made up',
          tags: ['alerts'],
          params: IdParam,
          response: {
            200: Alert.extend({
              events: z.array(NormalisedEvent),
              verdict: StoredVerdict.nullable(),
              priority_breakdown: PriorityBreakdown,
            }),
            404: ErrorBody,
          },
        },
      },
      async (req, reply) => {
        const alert = await store.alerts.get(req.params.id);
        if (!alert) throw notFound('alert', req.params.id);
        const events = await store.events.getManyText(alert.event_ids.slice(0, 100));
        const verdict = (await store.verdicts.latestFor(alert.id)) ?? null;
        const incident = alert.incident_id ? await store.incidents.get(alert.incident_id) : undefined;
        // The function triage scores with, on the same inputs: a disputed model verdict stands as the built-in's.
        const priority_breakdown = scorePriority({
          alert,
          assets: config.analyst.assets,
          incidentSize: incident?.alert_count ?? 1,
          ...(verdict
            ? {
                verdict: {
                  is_true_positive: verdict.response.is_true_positive,
                  confidence: verdict.response.confidence,
                  source: verdict.analyst === 'builtin' ? ('builtin' as const) : ('llm' as const),
                },
              }
            : {}),
        });
        return sendJsonText(
          reply,
          jsonWithArray({ ...alert, verdict, priority_breakdown }, 'events', events),
        );
      },
    );

    app.patch(
      '/alerts/:id',
      {
        config: { scope: 'analyst' },
        schema: {
          summary: 'Set an alert’s status (new, acknowledged, in_progress, closed), audited',
          tags: ['alerts'],
          params: IdParam,
          body: AlertPatch,
          response: { 200: Alert, 400: ErrorBody, 404: ErrorBody },
        },
      },
      async (req) => {
        const actor = req.apiKey?.name ?? 'unknown';
        const { status, comment } = req.body;
        const changed = await store.transaction(async (tx) => {
          const r = await tx.alerts.setStatus(req.params.id, status, new Date().toISOString());
          if (!r) return undefined;
          await tx.audit.append({
            actor,
            action: 'alert.status',
            target_type: 'alert',
            target_id: r.alert.id,
            ...(comment ? { reason: comment } : {}),
            details: { from: r.previous, to: status },
          });
          return r.alert;
        });
        if (!changed) throw notFound('alert', req.params.id);
        return changed;
      },
    );
  };
}
