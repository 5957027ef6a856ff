import { z } from 'zod';

const MIB = 1024 * 1024;

/**
 * `pipeline.journal`: the durable ingest journal, off by default. On, an
 * ingest request is acknowledged once its normalised events are fsynced to
 * an append-only file under `dir`, and a loader puts them into the store
 * behind (see `JournaledRunner`).
 */
export const JournalConfig = z
  .strictObject({
    enabled: z
      .boolean()
      .default(false)
      .describe(
        'Acknowledge ingestion (202, journaled: true) once the normalised events are fsynced to an append-only journal, and load them into the store behind: much higher ingest rates, at the cost of a lag before ingested events can be read back; embedded runner only (a nats stream already is a journal)',
      ),
    dir: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Directory of the journal segments, made private (0700) like data_dir; default <data_dir>/journal',
      ),
    segment_bytes: z
      .number()
      .int()
      .min(64 * 1024)
      .default(64 * MIB)
      .describe(
        'Size after which the journal starts a new segment file, in bytes; a segment is deleted once every frame in it is loaded into the store',
      ),
    max_pending_bytes: z
      .number()
      .int()
      .min(64 * 1024)
      .default(1024 * MIB)
      .describe(
        'Journal bytes not yet loaded into the store above which ingestion is refused with 429 AISOC_ERR_OVERLOADED and a retry hint, in bytes',
      ),
    load_batch_bytes: z
      .number()
      .int()
      .min(4096)
      .default(8 * MIB)
      .describe(
        'Journal bytes the loader reads at once; the frames it read are stored in one transaction of at most pipeline.group_commit_rows rows (a larger frame alone)',
      ),
  })
  .describe(
    'Durable ingest journal (embedded runner): acknowledge once fsynced to the journal, load into the store behind',
  );

export type JournalConfig = z.infer<typeof JournalConfig>;
