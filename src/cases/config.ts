import { z } from 'zod';

/** `integrations`: other products AI-SOC talks to (TheHive, for case exports). */
export const IntegrationsConfig = z
  .strictObject({
    thehive: z
      .strictObject({
        url: z.string().url().optional().describe('TheHive 5 base URL; exports are off while unset'),
        api_key_env: z
          .string()
          .default('AISOC_THEHIVE_API_KEY')
          .describe('Environment variable holding the TheHive API key'),
        organisation: z.string().optional().describe('TheHive organisation (X-Organisation header)'),
        timeout_ms: z.number().int().min(100).default(15_000).describe('Time allowed per TheHive request'),
      })
      .default({ api_key_env: 'AISOC_THEHIVE_API_KEY', timeout_ms: 15_000 }),
  })
  .describe('Other products AI-SOC talks to');
export type IntegrationsConfig = z.infer<typeof IntegrationsConfig>;
