import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AuditEntry } from '../../schema/case.ts';
import type { ServerDeps } from '../deps.ts';

/** The append-only audit log: who did what, to what, why and when. Admin scope: it names people and keys. */
export function auditRoutes(deps: ServerDeps): FastifyPluginAsyncZod {
  const { store } = deps.runtime;
  return async (app) => {
    app.get(
      '/audit',
      {
        config: { scope: 'admin' },
        schema: {
          summary: 'Audit entries in order; page with after_id',
          tags: ['audit'],
          querystring: z.object({
            target_type: z.string().max(64).optional(),
            target_id: z.string().max(256).optional(),
            action: z.string().max(64).optional(),
            after_id: z.coerce.number().int().min(0).optional(),
            limit: z.coerce.number().int().min(1).max(10_000).default(1000),
          }),
          response: { 200: z.object({ items: z.array(AuditEntry), next_after_id: z.number().nullable() }) },
        },
      },
      async (req) => {
        const items = await store.audit.list(req.query);
        return { items, next_after_id: items.length === req.query.limit ? (items.at(-1)?.id ?? null) : null };
      },
    );
  };
}
