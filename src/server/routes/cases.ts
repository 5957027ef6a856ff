import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { exportToTheHive } from '../../cases/thehive.ts';
import { AisocError } from '../../errors.ts';
import { Case, CaseResolution, CaseStatus } from '../../schema/case.ts';
import { Suppression } from '../../schema/response.ts';
import { grants } from '../auth.ts';
import type { ServerDeps } from '../deps.ts';
import { responseOf } from './analyze.ts';
import { csvEnum, ErrorBody, IdParam, Paging } from './common.ts';

export function caseRoutes(deps: ServerDeps): FastifyPluginAsyncZod {
  const { store } = deps.runtime;
  const actor = (req: { apiKey?: { name: string } }) => req.apiKey?.name ?? 'unknown';
  return async (app) => {
    app.get(
      '/cases',
      {
        config: { scope: 'read' },
        schema: {
          summary: 'Cases, most recently updated first',
          tags: ['cases'],
          querystring: z.object({ status: csvEnum(CaseStatus.options, 'status').optional(), ...Paging }),
          response: { 200: z.object({ items: z.array(Case), total: z.number() }) },
        },
      },
      async (req) => store.cases.list(req.query),
    );

    app.get(
      '/cases/:id',
      {
        config: { scope: 'read' },
        schema: {
          summary: 'One case',
          tags: ['cases'],
          params: IdParam,
          response: { 200: Case, 404: ErrorBody },
        },
      },
      async (req) => responseOf(deps).cases.get(req.params.id),
    );

    app.post(
      '/cases',
      {
        config: { scope: 'analyst' },
        schema: {
          summary: 'Open the case of an incident (or return its open case)',
          tags: ['cases'],
          body: z.object({ incident_id: z.uuid() }),
          response: { 201: Case, 200: Case, 404: ErrorBody },
        },
      },
      async (req, reply) => {
        const { case: c, created } = await responseOf(deps).cases.openForIncident(
          req.body.incident_id,
          actor(req),
        );
        return reply.code(created ? 201 : 200).send(c);
      },
    );

    app.patch(
      '/cases/:id',
      {
        config: { scope: 'analyst' },
        schema: {
          summary:
            'Change status, assignee or resolution; closing as false_positive may create a suppression',
          tags: ['cases'],
          params: IdParam,
          body: z.strictObject({
            status: CaseStatus.optional(),
            resolution: CaseResolution.optional(),
            assignee: z.string().max(128).nullable().optional(),
            title: z.string().min(1).max(500).optional(),
            description: z.string().max(20_000).optional(),
            suppress: z
              .strictObject({
                rule_ids: z.array(z.string().min(1)).optional(),
                entity: z.object({ type: z.string().min(1), value: z.string().min(1) }),
                days: z
                  .number()
                  .int()
                  .min(1)
                  .max(365)
                  .describe(
                    'At most respond.suppressions.max_days (default 30); up to 365 with an admin key',
                  ),
              })
              .optional()
              .describe(
                "Suppress the case's rule(s) for one of its entities (false positives only); other rules or entities need an admin key",
              ),
          }),
          response: {
            200: z.object({ case: Case, suppressions: z.array(Suppression) }),
            400: ErrorBody,
            403: ErrorBody,
            404: ErrorBody,
            409: ErrorBody,
          },
        },
      },
      async (req) =>
        responseOf(deps).cases.update(req.params.id, req.body, actor(req), {
          admin: grants(req.apiKey?.scopes ?? [], 'admin'),
        }),
    );

    app.post(
      '/cases/:id/export/thehive',
      {
        config: { scope: 'analyst' },
        schema: {
          summary:
            'Export the case to TheHive 5 as a case (default) or an alert; a second export returns the first one',
          tags: ['cases'],
          params: IdParam,
          body: z.object({ kind: z.enum(['case', 'alert']).default('case') }).nullish(),
          response: {
            200: z.object({
              kind: z.enum(['case', 'alert']),
              thehive_id: z.string(),
              observables: z.number(),
              already: z.boolean(),
            }),
            404: ErrorBody,
            503: ErrorBody,
          },
        },
      },
      async (req) => {
        const cfg = deps.runtime.config.integrations.thehive;
        const apiKey = process.env[cfg.api_key_env];
        if (!cfg.url || !apiKey) {
          throw new AisocError(
            'AISOC_ERR_CONFIG',
            `TheHive is not configured: set integrations.thehive.url and ${cfg.api_key_env}`,
            { field: 'integrations.thehive' },
          );
        }
        const c = await responseOf(deps).cases.get(req.params.id);
        return exportToTheHive(
          store,
          c,
          {
            url: cfg.url,
            apiKey,
            timeoutMs: cfg.timeout_ms,
            ...(cfg.organisation ? { organisation: cfg.organisation } : {}),
          },
          req.body?.kind ?? 'case',
          actor(req),
        );
      },
    );

    app.post(
      '/cases/:id/comments',
      {
        config: { scope: 'analyst' },
        schema: {
          summary: 'Add a comment',
          tags: ['cases'],
          params: IdParam,
          body: z.object({ text: z.string().min(1).max(20_000) }),
          response: { 200: Case, 404: ErrorBody },
        },
      },
      async (req) => responseOf(deps).cases.comment(req.params.id, actor(req), req.body.text),
    );

    app.post(
      '/cases/:id/tasks',
      {
        config: { scope: 'analyst' },
        schema: {
          summary: 'Add a task',
          tags: ['cases'],
          params: IdParam,
          body: z.object({ title: z.string().min(1).max(500), assignee: z.string().max(128).optional() }),
          response: { 200: Case, 404: ErrorBody },
        },
      },
      async (req) =>
        responseOf(deps).cases.addTask(req.params.id, actor(req), req.body.title, req.body.assignee),
    );

    app.patch(
      '/cases/:id/tasks/:task_id',
      {
        config: { scope: 'analyst' },
        schema: {
          summary: 'Mark a task done or open',
          tags: ['cases'],
          params: z.object({ id: z.uuid(), task_id: z.string().min(1).max(64) }),
          body: z.object({ status: z.enum(['open', 'done']) }),
          response: { 200: Case, 404: ErrorBody },
        },
      },
      async (req) =>
        responseOf(deps).cases.setTask(req.params.id, actor(req), req.params.task_id, req.body.status),
    );
  };
}
