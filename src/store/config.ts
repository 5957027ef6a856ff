import { z } from 'zod';

/** `retention`: how long stored events are kept, and how often expired ones are swept. */
export const RetentionConfig = z
  .strictObject({
    events_days: z
      .number()
      .min(0)
      .default(30)
      .describe(
        'Days events are kept after ingestion (0 keeps them forever); alerts, incidents, verdicts, cases and audit are kept until deleted',
      ),
    sweep_interval_ms: z
      .number()
      .int()
      .min(1000)
      .default(3_600_000)
      .describe('How often expired events are deleted'),
  })
  .describe('Data retention');
export type RetentionConfig = z.infer<typeof RetentionConfig>;

/** `embedded_db`: the embedded database's settings. */
export const EmbeddedDbConfig = z
  .strictObject({
    shared_buffers_mb: z
      .number()
      .int()
      .min(1)
      .max(4096)
      .default(32)
      .describe(
        'PostgreSQL shared_buffers of the embedded database (PGlite), in MiB: its page cache, resident in the server process from the start (the operating system caches the files beneath it)',
      ),
  })
  .describe('The embedded database (PGlite), used when database_url is not set');
export type EmbeddedDbConfig = z.infer<typeof EmbeddedDbConfig>;
