import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AisocError } from '../../errors.ts';
import { API_SCOPES } from '../../store/index.ts';
import type { ServerDeps } from '../deps.ts';
import { ErrorBody } from './common.ts';

const KeyRecord = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string().describe('First characters of the key, to recognise it'),
  scopes: z.array(z.enum(API_SCOPES)),
  created_at: z.string(),
  last_used_at: z.string().optional(),
  revoked_at: z.string().optional(),
});

export const KeyName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9._-]+$/, 'may hold letters, digits, dot, dash and underscore');

export function keyRoutes(deps: ServerDeps): FastifyPluginAsyncZod {
  const { store } = deps.runtime;
  return async (app) => {
    app.get(
      '/keys',
      {
        config: { scope: 'admin' },
        schema: {
          summary: 'List API keys (never the keys themselves)',
          tags: ['auth'],
          response: { 200: z.object({ items: z.array(KeyRecord) }) },
        },
      },
      async () => ({ items: await store.apiKeys.list() }),
    );

    app.post(
      '/keys',
      {
        config: { scope: 'admin' },
        schema: {
          summary: 'Create an API key; the key is shown once',
          tags: ['auth'],
          body: z.object({ name: KeyName, scopes: z.array(z.enum(API_SCOPES)).min(1) }),
          response: { 201: z.object({ key: z.string(), record: KeyRecord }), 400: ErrorBody, 409: ErrorBody },
        },
      },
      async (req, reply) => {
        const existing = (await store.apiKeys.list()).find((k) => k.name === req.body.name);
        if (existing)
          throw new AisocError('AISOC_ERR_CONFLICT', `A key named ${req.body.name} already exists`, {
            field: 'body.name',
          });
        const created = await store.apiKeys.create(req.body.name, req.body.scopes);
        await store.audit.append({
          actor: req.apiKey?.name ?? 'unknown',
          action: 'key.create',
          target_type: 'api_key',
          target_id: created.record.id,
          details: { name: req.body.name, scopes: req.body.scopes },
        });
        deps.keys.invalidate();
        return reply.code(201).send(created);
      },
    );

    app.delete(
      '/keys/:name',
      {
        config: { scope: 'admin' },
        schema: {
          summary: 'Revoke an API key by name or id',
          tags: ['auth'],
          params: z.object({ name: z.string().min(1).max(64) }),
          response: { 200: z.object({ revoked: z.boolean() }), 404: ErrorBody },
        },
      },
      async (req) => {
        const revoked = await store.apiKeys.revoke(req.params.name);
        if (!revoked)
          throw new AisocError('AISOC_ERR_NOT_FOUND', `No active key named ${req.params.name}`, {
            field: 'name',
          });
        await store.audit.append({
          actor: req.apiKey?.name ?? 'unknown',
          action: 'key.revoke',
          target_type: 'api_key',
          target_id: req.params.name,
        });
        deps.keys.invalidate();
        return { revoked };
      },
    );

    app.get(
      '/whoami',
      {
        // Any valid key, whatever its scopes: the console asks this to learn what the key may do.
        config: { scope: 'authenticated' },
        schema: {
          summary: "The calling key's name and scopes (any valid key)",
          tags: ['auth'],
          response: {
            200: z.object({ name: z.string(), scopes: z.array(z.enum(API_SCOPES)) }),
            401: ErrorBody,
          },
        },
      },
      async (req) => {
        // The auth hook has verified the key for every non-public route; without one this is unreachable.
        const key = req.apiKey;
        if (!key) throw new AisocError('AISOC_ERR_UNAUTHORIZED', 'No API key.', { field: 'authorization' });
        return { name: key.name, scopes: key.scopes };
      },
    );
  };
}
