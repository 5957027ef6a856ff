import { z } from 'zod';
import { AisocError } from '../../errors.ts';

/** Shortest shared secret accepted for webhook signatures (`openssl rand -hex 32` gives 64). */
export const MIN_SECRET_LENGTH = 32;

/** Settings of the Wazuh source, under `sources.wazuh` in the config file. */
export const WazuhConfig = z
  .strictObject({
    webhook_hmac_secret: z
      .string()
      .min(MIN_SECRET_LENGTH, `must be at least ${MIN_SECRET_LENGTH} characters`)
      .optional()
      .describe(
        'Shared secret for POST /webhook: when set, every request must carry X-AISOC-Timestamp and X-AISOC-Signature (HMAC-SHA256). Env AISOC_WEBHOOK_SECRET overrides it.',
      ),
    webhook_timestamp_tolerance_ms: z
      .number()
      .int()
      .min(1_000)
      .max(3_600_000)
      .default(300_000)
      .describe(
        'How far X-AISOC-Timestamp may differ from the server clock before a signed request is refused',
      ),
  })
  .describe('Wazuh manager alerts (alerts.json lines, the integration webhook, indexer exports)');
export type WazuhConfig = z.infer<typeof WazuhConfig>;

/** What POST /webhook needs to verify signatures. */
export interface WebhookSettings {
  /** The shared secret, or undefined when signatures are not required. */
  secret?: string;
  toleranceMs: number;
}

/**
 * Resolve the webhook settings from `sources.wazuh` and the environment.
 * `AISOC_WEBHOOK_SECRET` overrides the file, as the environment does for
 * every other setting. A secret that is too short fails at start-up.
 *
 * @example webhookSettings(config.sources.wazuh, process.env) // { secret: '…', toleranceMs: 300000 }
 */
export function webhookSettings(section: unknown, env: NodeJS.ProcessEnv = process.env): WebhookSettings {
  const parsed = WazuhConfig.safeParse(section ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = ['sources', 'wazuh', ...(issue?.path ?? []).map(String)].join('.');
    throw new AisocError('AISOC_ERR_CONFIG', `${path}: ${issue?.message ?? 'is invalid'}`, { field: path });
  }
  const fromEnv = env.AISOC_WEBHOOK_SECRET;
  if (fromEnv !== undefined && fromEnv !== '' && fromEnv.length < MIN_SECRET_LENGTH) {
    throw new AisocError(
      'AISOC_ERR_CONFIG',
      `AISOC_WEBHOOK_SECRET must be at least ${MIN_SECRET_LENGTH} characters`,
      { field: 'AISOC_WEBHOOK_SECRET' },
    );
  }
  const secret = fromEnv || parsed.data.webhook_hmac_secret;
  return { ...(secret ? { secret } : {}), toleranceMs: parsed.data.webhook_timestamp_tolerance_ms };
}
