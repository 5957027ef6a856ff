import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AisocError } from '../../errors.ts';
import { ingestMetrics } from '../../pipeline/metrics.ts';
import { WebhookConfig } from '../../respond/actions/notify/webhook.ts';
import { type WebhookSettings, webhookSettings } from '../../sources/wazuh/config.ts';
import type { ServerDeps } from '../deps.ts';
import { ErrorBody } from './common.ts';

/** Header carrying `sha256=<hex HMAC-SHA256>` of `aisoc-webhook-v1.<timestamp>.<raw body>`. */
export const SIGNATURE_HEADER = 'x-aisoc-signature';
/**
 * What an inbound signature signs first: it separates this use of HMAC from
 * the signatures of outbound notifications (`aisoc-notify-v1`), so one can
 * never be replayed as the other, even under the same secret.
 */
export const WEBHOOK_SIGNATURE_CONTEXT = 'aisoc-webhook-v1';
/** Header carrying the Unix time (seconds) at which the request was signed. */
export const TIMESTAMP_HEADER = 'x-aisoc-timestamp';

/**
 * The signature of a webhook body: HMAC-SHA256, keyed with the shared
 * secret, over `aisoc-webhook-v1`, a dot, the timestamp, a dot, and the raw
 * body bytes as sent (before any decompression). Signing the timestamp with
 * the body is what stops a captured request from being replayed later with a
 * fresh timestamp; the context string is what stops a captured outbound
 * notification (signed over `aisoc-notify-v1.…`) from passing here.
 *
 * @example webhookSignature(secret, '1763712842', body) // 'sha256=9f86d0…'
 */
export function webhookSignature(secret: string, timestamp: string, body: Buffer): string {
  const mac = createHmac('sha256', secret)
    .update(`${WEBHOOK_SIGNATURE_CONTEXT}.${timestamp}.`)
    .update(body)
    .digest('hex');
  return `sha256=${mac}`;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  // A repeated header is ambiguous; treat it as absent so the request is refused.
  return typeof v === 'string' ? v.trim() : undefined;
}

function refuse(message: string, field: string, reason: string): AisocError {
  return new AisocError('AISOC_ERR_UNAUTHORIZED', message, { field, details: { reason } });
}

/**
 * Check a signed webhook request: the timestamp must be within the tolerance
 * of the server clock and the signature must match, compared in constant
 * time. Throws a 401 {@link AisocError} naming the header at fault.
 */
export function verifyWebhookSignature(
  headers: IncomingHttpHeaders,
  body: Buffer,
  settings: Required<Pick<WebhookSettings, 'secret'>> & WebhookSettings,
  now: number = Date.now(),
): void {
  const ts = header(headers, TIMESTAMP_HEADER);
  if (ts === undefined) {
    throw refuse(
      'Signed webhooks need X-AISOC-Timestamp (Unix seconds).',
      TIMESTAMP_HEADER,
      'missing_timestamp',
    );
  }
  if (!/^\d{1,12}$/.test(ts)) {
    throw refuse('X-AISOC-Timestamp must be Unix seconds.', TIMESTAMP_HEADER, 'bad_timestamp');
  }
  const skewMs = Math.abs(now - Number(ts) * 1000);
  if (skewMs > settings.toleranceMs) {
    throw refuse(
      `X-AISOC-Timestamp is ${Math.round(skewMs / 1000)} s away from the server clock (allowed ${settings.toleranceMs / 1000} s); check the clock of the sender.`,
      TIMESTAMP_HEADER,
      'stale_timestamp',
    );
  }
  const sig = header(headers, SIGNATURE_HEADER);
  if (sig === undefined) {
    throw refuse(
      'Signed webhooks need X-AISOC-Signature: sha256=<hex>.',
      SIGNATURE_HEADER,
      'missing_signature',
    );
  }
  const m = /^sha256=([0-9a-fA-F]{64})$/.exec(sig);
  const expected = Buffer.from(webhookSignature(settings.secret, ts, body).slice(7), 'hex');
  // Compare a fixed-length value whatever was sent, so a malformed header costs the same time as a wrong one.
  const given = m ? Buffer.from(m[1]!, 'hex') : Buffer.alloc(expected.length);
  if (!timingSafeEqual(given, expected) || !m) {
    throw refuse('X-AISOC-Signature does not match the body.', SIGNATURE_HEADER, 'bad_signature');
  }
}

const Outcome = z.object({
  source: z.string(),
  received: z.number().describe('Alerts found in the body'),
  stored: z
    .number()
    .describe(
      'New events stored (durable before this response); with journaled: true, events made durable in the ingest journal, of which duplicates of alerts stored earlier are dropped when the journal is loaded',
    ),
  duplicates: z.number().describe('Alerts already stored (a resent alert), not stored twice'),
  dead_letters: z.number().describe('Alerts rejected, kept in the dead-letter table with a reason'),
  skipped: z.number(),
  journaled: z
    .boolean()
    .optional()
    .describe(
      'Present and true when pipeline.journal is on: durable in the ingest journal, loaded into the store shortly after',
    ),
  errors: z.array(
    z.object({
      at: z.string(),
      line: z.number().optional(),
      code: z.string(),
      message: z.string(),
      field: z.string().optional(),
    }),
  ),
});

/**
 * `POST /webhook`: where the Wazuh integration (`custom-aisoc`) posts alerts.
 * One alert per request as Wazuh sends it (an array or NDJSON also work),
 * authenticated by an API key with the `ingest` scope and, when a shared
 * secret is configured, by an HMAC signature. Feeds the same ingest service
 * as `POST /ingest/wazuh` and answers with the same outcome.
 *
 * @example
 * await app.register(webhookRoutes(deps));
 */
export function webhookRoutes(deps: ServerDeps, env: NodeJS.ProcessEnv = process.env): FastifyPluginAsyncZod {
  const { runtime } = deps;
  const { ingestRequests } = ingestMetrics(runtime.metrics);
  // Resolved once at start-up: a bad secret fails the server, not the first request.
  const settings = webhookSettings(runtime.config.sources.wazuh, env);
  if (settings.secret && notifySecret(runtime.config.respond.actions, env) === settings.secret)
    runtime.logger.warn(
      'notify.webhook signs with the same secret POST /webhook checks; the signatures stay apart (context strings), but give each its own secret.',
    );
  return async (app) => {
    // The signature covers the raw bytes, so the body must reach the handler unparsed.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

    app.post(
      '/webhook',
      {
        config: { scope: 'ingest' },
        schema: {
          summary: 'Receive Wazuh alerts from the custom-aisoc integration',
          description:
            'The body is a raw Wazuh alert (alerts.json format); an array or NDJSON of alerts also works. Needs an API key with the ingest scope (Authorization: Bearer or X-API-Key). When sources.wazuh.webhook_hmac_secret (or AISOC_WEBHOOK_SECRET) is set, X-AISOC-Timestamp (Unix seconds) and X-AISOC-Signature (sha256=<hex HMAC-SHA256 of "aisoc-webhook-v1.<timestamp>.<raw body>">) are required.',
          tags: ['ingest'],
          response: {
            202: Outcome,
            400: ErrorBody,
            401: ErrorBody,
            413: ErrorBody,
            422: ErrorBody,
            429: ErrorBody,
            503: ErrorBody,
          },
        },
      },
      async (req, reply) => {
        const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        try {
          if (settings.secret)
            verifyWebhookSignature(req.headers, body, { ...settings, secret: settings.secret });
          const outcome = await runtime.ingest.ingestBody(
            'wazuh',
            body,
            req.headers['content-encoding'],
            req.ingestPermit,
          );
          ingestRequests.inc({ source: 'wazuh', status: '202' });
          return reply.code(202).send(outcome);
        } catch (err) {
          const status = (err as { status?: number }).status ?? 500;
          ingestRequests.inc({ source: 'wazuh', status: String(status) });
          if (status === 401)
            req.log.warn({ reason: (err as AisocError).details?.reason }, 'A webhook signature was refused.');
          throw err;
        }
      },
    );
  };
}

/** The secret notify.webhook signs with, when that action is configured. */
function notifySecret(actions: Record<string, unknown>, env: NodeJS.ProcessEnv): string | undefined {
  if (!('notify.webhook' in actions)) return undefined;
  const parsed = WebhookConfig.safeParse(actions['notify.webhook'] ?? {});
  return parsed.success ? env[parsed.data.secret_env] : undefined;
}
