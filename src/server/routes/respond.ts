import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AisocError } from '../../errors.ts';
import { ActionRequest, ActionStatus, PlaybookRun, Suppression } from '../../schema/response.ts';
import type { ServerDeps } from '../deps.ts';
import { responseOf } from './analyze.ts';
import { csvEnum, ErrorBody, Paging } from './common.ts';

const ActionId = z.object({ id: z.uuid().describe('Action request id') });
const Decision = z.object({
  comment: z.string().max(2000).optional().describe('Why (kept in the audit log)'),
});

/** Action requests (approve, deny, roll back), playbooks, runs and suppressions. */
export function respondRoutes(deps: ServerDeps): FastifyPluginAsyncZod {
  const { store } = deps.runtime;
  return async (app) => {
    app.get(
      '/actions',
      {
        config: { scope: 'read' },
        schema: {
          summary: 'Action requests, newest first (status=pending_approval for the approval queue)',
          tags: ['response'],
          querystring: z.object({ status: csvEnum(ActionStatus.options, 'status').optional(), ...Paging }),
          response: { 200: z.object({ items: z.array(ActionRequest), total: z.number() }) },
        },
      },
      async (req) => store.actions.list(req.query),
    );

    app.get(
      '/actions/:id',
      {
        config: { scope: 'read' },
        schema: {
          summary: 'One action request',
          tags: ['response'],
          params: ActionId,
          response: { 200: ActionRequest, 404: ErrorBody },
        },
      },
      async (req) => {
        const r = await store.actions.get(req.params.id);
        if (!r)
          throw new AisocError('AISOC_ERR_NOT_FOUND', `No action request ${req.params.id}`, { field: 'id' });
        return r;
      },
    );

    const decide = (verb: 'approve' | 'deny') =>
      app.post(
        `/actions/:id/${verb}`,
        {
          config: { scope: 'responder' },
          schema: {
            summary:
              verb === 'approve'
                ? 'Approve a pending action (never your own request): once respond.approvals.min_approvers people approved, it runs and its playbook resumes'
                : 'Deny a pending action',
            tags: ['response'],
            params: ActionId,
            body: Decision.nullish(),
            response: { 200: ActionRequest, 400: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody },
          },
        },
        async (req) => {
          const r = responseOf(deps);
          const by = req.apiKey?.name ?? 'unknown';
          const done =
            verb === 'approve'
              ? await r.actions.approve(req.params.id, by, req.body?.comment)
              : await r.actions.deny(req.params.id, by, req.body?.comment);
          if (done.run_id) await r.worker.resumeRun(done.run_id);
          return done;
        },
      );
    decide('approve');
    decide('deny');

    app.post(
      '/actions/:id/rollback',
      {
        config: { scope: 'responder' },
        schema: {
          summary: 'Roll back a completed reversible action',
          tags: ['response'],
          params: ActionId,
          body: Decision.nullish(),
          response: { 200: ActionRequest, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
        },
      },
      async (req) =>
        responseOf(deps).actions.rollback(req.params.id, req.apiKey?.name ?? 'unknown', req.body?.comment),
    );

    app.post(
      '/actions',
      {
        config: { scope: 'responder' },
        schema: {
          summary: 'Request an action by hand; destructive ones wait for approval like any other',
          tags: ['response'],
          body: z.object({
            type: z.string().min(1).max(128),
            input: z.record(z.string(), z.unknown()),
            reason: z.string().min(1).max(2000),
            dry_run: z
              .boolean()
              .default(true)
              .describe(
                'false asks for a live run; while respond.dry_run is true that needs require_approval (else 403 AISOC_ERR_DRY_RUN_ENFORCED)',
              ),
            require_approval: z
              .boolean()
              .default(false)
              .describe('Wait for a second person to approve, whatever the effect (four eyes)'),
            alert_id: z.uuid().optional(),
            incident_id: z.uuid().optional(),
          }),
          response: { 201: ActionRequest, 400: ErrorBody, 403: ErrorBody },
        },
      },
      async (req, reply) => {
        const r = responseOf(deps);
        const created = await r.actions.request({
          type: req.body.type,
          input: req.body.input,
          reason: req.body.reason,
          requested_by: req.apiKey?.name ?? 'unknown',
          approval: req.body.require_approval ? 'required' : 'auto',
          dry_run: req.body.dry_run,
          expires_in_ms: 24 * 3_600_000,
          ...(req.body.alert_id ? { alert_id: req.body.alert_id } : {}),
          ...(req.body.incident_id ? { incident_id: req.body.incident_id } : {}),
        });
        return reply.code(201).send(created);
      },
    );

    app.get(
      '/playbooks',
      {
        config: { scope: 'read' },
        schema: {
          summary: 'Loaded playbooks and the problems of those that could not load',
          tags: ['response'],
          response: {
            200: z.object({
              items: z.array(
                z.object({
                  id: z.string(),
                  name: z.string(),
                  enabled: z.boolean(),
                  trigger: z.unknown(),
                  steps: z.array(z.object({ id: z.string(), uses: z.string() })),
                }),
              ),
              issues: z.array(
                z.object({ file: z.string(), line: z.number().optional(), message: z.string() }),
              ),
              actions: z.array(z.string()),
            }),
          },
        },
      },
      async () => {
        const r = responseOf(deps);
        return {
          items: r.playbooks.map((p) => ({
            id: p.id,
            name: p.name,
            enabled: p.enabled,
            trigger: p.trigger,
            steps: p.steps.map((s) => ({ id: s.id, uses: s.uses })),
          })),
          issues: r.playbookIssues,
          actions: r.actions.types(),
        };
      },
    );

    app.get(
      '/playbook-runs',
      {
        config: { scope: 'read' },
        schema: {
          summary: 'Playbook runs, most recently updated first',
          tags: ['response'],
          querystring: z.object({
            status: csvEnum(['running', 'waiting', 'completed', 'failed'], 'status').optional(),
            limit: Paging.limit,
          }),
          response: { 200: z.object({ items: z.array(PlaybookRun) }) },
        },
      },
      async (req) => ({ items: await store.runs.list(req.query) }),
    );

    app.get(
      '/suppressions',
      {
        config: { scope: 'read' },
        schema: {
          summary: 'Active suppressions',
          tags: ['response'],
          response: { 200: z.object({ items: z.array(Suppression) }) },
        },
      },
      async () => ({ items: await store.suppressions.active(new Date().toISOString()) }),
    );

    app.delete(
      '/suppressions/:id',
      {
        config: { scope: 'analyst' },
        schema: {
          summary: 'Lift a suppression',
          tags: ['response'],
          params: z.object({ id: z.uuid() }),
          response: { 200: z.object({ revoked: z.boolean() }), 404: ErrorBody },
        },
      },
      async (req) => {
        if (!(await store.suppressions.revoke(req.params.id)))
          throw new AisocError('AISOC_ERR_NOT_FOUND', `No active suppression ${req.params.id}`, {
            field: 'id',
          });
        await store.audit.append({
          actor: req.apiKey?.name ?? 'unknown',
          action: 'suppression.revoke',
          target_type: 'suppression',
          target_id: req.params.id,
        });
        return { revoked: true };
      },
    );
  };
}
