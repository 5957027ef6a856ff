import { createHash } from 'node:crypto';
import { z } from 'zod';
import { AisocError } from '../../../errors.ts';
import { baseConfigShape, defineAction, EnvVarName } from '../define.ts';
import { httpCall } from '../http.ts';
import { checkEndpoint, readCa } from './endpoint.ts';
import { linkBaseUrl, linkFor, NotificationInput } from './message.ts';
import { signWebhook } from './signature.ts';

export const WebhookConfig = z
  .strictObject({
    ...baseConfigShape,
    url_env: EnvVarName.default('AISOC_WEBHOOK_URL').describe(
      'Environment variable holding the receiver URL (kept secret: URLs often carry tokens)',
    ),
    secret_env: EnvVarName.default('AISOC_NOTIFY_WEBHOOK_SECRET').describe(
      'Environment variable holding the HMAC-SHA256 signing secret (at least 32 characters); not the secret POST /webhook checks (AISOC_WEBHOOK_SECRET)',
    ),
    signature_header: z
      .string()
      .regex(/^[A-Za-z0-9-]{1,64}$/)
      .default('X-AISOC-Signature')
      .describe('Header carrying t=<unix seconds>,v1=<hex HMAC-SHA256 of "aisoc-notify-v1.<t>.<body>">'),
    tls_reject_unauthorized: z.boolean().default(true).describe('Verify the receiver certificate'),
    ca_file: z.string().optional().describe('PEM file of the CA that signed the receiver certificate'),
    link_base_url: linkBaseUrl,
  })
  .describe('notify.webhook');

/** A header-safe delivery id: the idempotency key when it is printable ASCII, else its hash. */
function deliveryId(key: string): string {
  return /^[\x21-\x7e]{1,200}$/.test(key) ? key : createHash('sha256').update(key).digest('hex');
}

/**
 * `notify.webhook`: POSTs the notification as JSON to a configured receiver,
 * signed with HMAC-SHA256 over a context string, the timestamp and the raw
 * body (see {@link signWebhook}), with its own secret; `X-AISOC-Delivery` carries the run's idempotency key
 * so a receiver can drop a redelivery. Redirects are not followed.
 *
 * @example
 * await webhookFactory.create({}, ctx).execute({ title, summary, severity: 'high', incident_id }, opts);
 */
export const webhookFactory = defineAction({
  type: 'notify.webhook',
  description: 'POST a notification as signed JSON (HMAC-SHA256 of timestamp and body) to a webhook receiver',
  effect: 'read-only',
  configSchema: WebhookConfig,
  inputSchema: NotificationInput,
  build(config, ctx) {
    const url = checkEndpoint(ctx.secret(config.url_env, 'url_env'), 'url_env', ctx.redactor);
    const secret = ctx.secret(config.secret_env, 'secret_env');
    if (secret.length < 32)
      throw new AisocError(
        'AISOC_ERR_CONFIG',
        `The signing secret in ${config.secret_env} must have at least 32 characters`,
        {
          field: 'secret_env',
        },
      );
    const ca = readCa(config.ca_file, 'ca_file');
    return {
      async execute(input, run) {
        const id = deliveryId(run.idempotencyKey);
        const body = JSON.stringify({
          type: 'aisoc.notification',
          id,
          sent_at: new Date().toISOString(),
          notification: { ...input, url: linkFor(input, config.link_base_url) },
        });
        if (run.dryRun)
          return {
            status: 'dry_run',
            summary: `Would POST "${input.title}" to the webhook receiver.`,
            details: { delivery_id: id, body: JSON.parse(body) },
          };
        const t = Math.floor(Date.now() / 1000);
        const r = await httpCall(run, {
          label: 'webhook receiver',
          url: url.toString(),
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            [config.signature_header]: signWebhook(secret, t, body),
            'X-AISOC-Delivery': id,
          },
          body,
          tls: { rejectUnauthorized: config.tls_reject_unauthorized, ...(ca ? { ca } : {}) },
          mutating: true,
        });
        return {
          status: 'succeeded',
          summary: `POSTed "${input.title}" to the webhook receiver (HTTP ${r.status}).`,
          details: { delivery_id: id, http_status: r.status },
        };
      },
    };
  },
});
