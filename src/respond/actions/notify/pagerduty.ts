import { z } from 'zod';
import { baseConfigShape, defineAction, EnvVarName } from '../define.ts';
import { actionError, parseOrThrow } from '../errors.ts';
import { httpCall } from '../http.ts';
import { actionKey } from '../key.ts';
import type { RunContext } from '../types.ts';
import { SecureUrl } from './endpoint.ts';
import { linkBaseUrl, linkFor, NotificationInput, oneLine } from './message.ts';

export const PagerDutyConfig = z
  .strictObject({
    ...baseConfigShape,
    routing_key_env: EnvVarName.default('AISOC_PAGERDUTY_ROUTING_KEY').describe(
      'Environment variable holding the Events API v2 integration (routing) key',
    ),
    events_url: SecureUrl.default('https://events.pagerduty.com/v2/enqueue').describe(
      'Events API v2 endpoint (the EU service uses https://events.eu.pagerduty.com/v2/enqueue)',
    ),
    source: z
      .string()
      .min(1)
      .max(255)
      .default('aisoc')
      .describe('payload.source: the system the alert is about or from'),
    component: z.string().max(255).optional().describe('payload.component'),
    group: z.string().max(255).optional().describe('payload.group'),
    class: z.string().max(255).optional().describe('payload.class'),
    link_base_url: linkBaseUrl,
  })
  .describe('notify.pagerduty');

const SEVERITY = {
  critical: 'critical',
  high: 'error',
  medium: 'warning',
  low: 'info',
  informational: 'info',
} as const;

const RollbackData = z.object({ dedup_key: z.string().min(1).max(255) });

/**
 * The PagerDuty dedup_key of a notification: one per incident (or alert), so
 * repeated triggers update one PagerDuty alert instead of paging again; for
 * a notification about neither, a hash of its content.
 *
 * @example dedupKey({ …, incident_id: 'e3…' }) // 'aisoc/incident/e3…'
 */
export function dedupKey(n: NotificationInput): string {
  if (n.incident_id) return `aisoc/incident/${n.incident_id}`;
  if (n.alert_id) return `aisoc/alert/${n.alert_id}`;
  return `aisoc/notification/${actionKey('notify.pagerduty', n).slice(0, 32)}`;
}

/**
 * `notify.pagerduty`: sends an Events API v2 `trigger` whose dedup_key
 * derives from the incident, so repeats update one PagerDuty alert. It is
 * reversible: rollback sends `resolve` for the same dedup_key.
 *
 * @example
 * const r = await pagerDutyFactory.create({}, ctx).execute({ title, summary, severity: 'critical', incident_id }, opts);
 * await action.rollback?.(input, r.rollback_data, opts); // resolves it
 */
export const pagerDutyFactory = defineAction({
  type: 'notify.pagerduty',
  description: 'Trigger a PagerDuty alert (Events API v2) de-duplicated per incident; rollback resolves it',
  effect: 'reversible',
  configSchema: PagerDutyConfig,
  inputSchema: NotificationInput,
  build(config, ctx) {
    const routingKey = ctx.secret(config.routing_key_env, 'routing_key_env');

    async function enqueue(run: RunContext, event: Record<string, unknown>) {
      const r = await httpCall(run, {
        label: 'PagerDuty Events API',
        url: config.events_url,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ routing_key: routingKey, ...event }),
        mutating: true,
      });
      let body: { status?: string; dedup_key?: string; message?: string } = {};
      try {
        body = JSON.parse(r.body);
      } catch {
        // A 2xx without JSON still means PagerDuty took the event.
      }
      return body;
    }

    return {
      async execute(input, run) {
        const key = dedupKey(input);
        const link = linkFor(input, config.link_base_url);
        const event = {
          event_action: 'trigger',
          dedup_key: key,
          payload: {
            summary: oneLine(input.title, 1024),
            source: config.source,
            severity: SEVERITY[input.severity],
            ...(config.component ? { component: config.component } : {}),
            ...(config.group ? { group: config.group } : {}),
            ...(config.class ? { class: config.class } : {}),
            custom_details: {
              summary: input.summary,
              severity: input.severity,
              ...(input.incident_id ? { incident_id: input.incident_id } : {}),
              ...(input.alert_id ? { alert_id: input.alert_id } : {}),
              ...input.fields,
            },
          },
          client: 'AI-SOC',
          ...(link ? { client_url: link, links: [{ href: link, text: 'Open in AI-SOC' }] } : {}),
        };
        if (run.dryRun)
          return {
            status: 'dry_run',
            summary: `Would trigger PagerDuty alert ${key} ("${input.title}", ${SEVERITY[input.severity]}).`,
            details: { dedup_key: key, event },
          };
        const body = await enqueue(run, event);
        if (body.dedup_key !== undefined && body.dedup_key !== key)
          throw actionError('AISOC_ERR_ACTION_FAILED', 'PagerDuty answered with another dedup_key', {
            expected: key,
            got: body.dedup_key,
          });
        return {
          status: 'succeeded',
          summary: `Triggered PagerDuty alert ${key} ("${input.title}").`,
          details: { dedup_key: key, severity: SEVERITY[input.severity], response: body.message ?? null },
          rollback_data: { dedup_key: key },
        };
      },

      async rollback(_input, rollbackData, run) {
        const data = parseOrThrow(
          RollbackData,
          rollbackData,
          'AISOC_ERR_VALIDATION',
          'rollback data',
          'rollback_data',
        );
        if (run.dryRun)
          return {
            status: 'dry_run',
            summary: `Would resolve PagerDuty alert ${data.dedup_key}.`,
            details: data,
          };
        const body = await enqueue(run, { event_action: 'resolve', dedup_key: data.dedup_key });
        return {
          status: 'succeeded',
          summary: `Resolved PagerDuty alert ${data.dedup_key}.`,
          details: { ...data, response: body.message ?? null },
        };
      },
    };
  },
});
