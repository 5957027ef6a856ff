import { z } from 'zod';

/** `correlate`: the windows and entity types that fold alerts and group them into incidents. */
export const CorrelateConfig = z
  .strictObject({
    dedupe_window_ms: z
      .number()
      .int()
      .min(0)
      .default(3_600_000)
      .describe('Identical alerts (same rule and entities) within this window fold into one, with a count'),
    group_window_ms: z
      .number()
      .int()
      .min(0)
      .default(4 * 3_600_000)
      .describe('Alerts sharing an entity within this window are grouped into one incident'),
    group_by: z
      .array(z.enum(['user', 'host', 'ip', 'access_key', 'instance', 'account', 'process', 'file', 'domain']))
      .default(['user', 'access_key', 'ip', 'host', 'instance'])
      .describe('Entity types that link alerts into an incident'),
    inbox_retention_ms: z
      .number()
      .int()
      .min(60_000)
      .default(24 * 3_600_000)
      .describe(
        'How long the correlate stage remembers the items it processed, so one delivered again changes nothing (ms of processing: downtime does not count); far longer than any redelivery',
      ),
  })
  .describe('Correlation of alerts into incidents');
export type CorrelateConfig = z.infer<typeof CorrelateConfig>;
