import { z } from 'zod';
import { declaredSectionsOf, keysOf, section } from '../config/sections.ts';
import { DEFAULT_EVENT_LIMITS, MIN_FIELD_BYTES, MIN_RAW_BYTES } from '../sources/limits.ts';
import { JournalConfig } from './journal/config.ts';
import type { RunnerFactory } from './runner.ts';
import { RUNNERS } from './runners.ts';

/** The settings every runner honours. */
const PIPELINE_FIELDS = {
  queue_capacity: z
    .number()
    .int()
    .min(1)
    .default(20_000)
    .describe('Events accepted but not yet processed before ingestion is refused with 429'),
  batch_size: z.number().int().min(1).max(10_000).default(500).describe('Events a stage handles per call'),
  stage_queue_batches: z
    .number()
    .int()
    .min(1)
    .default(4)
    .describe('Batches that may wait between two stages (bounded queue length)'),
  group_commit_rows: z
    .number()
    .int()
    .min(1)
    .default(2_000)
    .describe(
      'Rows (events and dead letters) at most in one group commit: submissions that arrive while one commits share the next transaction up to this; a larger submission commits alone, and 1 commits each alone',
    ),
  max_inflight_requests: z
    .number()
    .int()
    .min(1)
    .default(32)
    .describe('Ingest requests decoded at once; more are refused with 429 (bounds memory)'),
  retry_attempts: z
    .number()
    .int()
    .min(1)
    .max(10)
    .default(3)
    .describe('Attempts per batch before items are retried alone and dead-lettered'),
  retry_backoff_ms: z.number().int().min(0).default(100).describe('First retry delay; doubles per attempt'),
  dead_letter_record_bytes: z
    .number()
    .int()
    .min(256)
    .default(64 * 1024)
    .describe('Rejected input kept per dead letter, in bytes (longer records are truncated)'),
  max_event_loop_delay_ms: z
    .number()
    .int()
    .min(0)
    .default(100)
    .describe(
      'Refuse new input with 503 AISOC_ERR_UNDER_PRESSURE while the event loop was delayed longer than this in the last sample window, in ms (0 disables); /health is never refused',
    ),
  max_rss_bytes: z
    .number()
    .int()
    .min(0)
    .default(1024 * 1024 * 1024)
    .describe(
      'Refuse new input with 503 AISOC_ERR_UNDER_PRESSURE while the resident set size is above this and accepted events are still being processed, in bytes (0 disables)',
    ),
  pressure_sample_ms: z
    .number()
    .int()
    .min(10)
    .default(250)
    .describe('How often event-loop delay and memory are sampled for admission, in ms'),
  max_field_bytes: z
    .number()
    .int()
    .min(MIN_FIELD_BYTES)
    .default(DEFAULT_EVENT_LIMITS.maxFieldBytes)
    .describe(
      'Longest text kept in one field of a stored event, in UTF-8 bytes: longer text is cut to this size, ending with "…[truncated: N bytes in all]", and the event is marked truncated: true',
    ),
  max_raw_bytes: z
    .number()
    .int()
    .min(MIN_RAW_BYTES)
    .default(DEFAULT_EVENT_LIMITS.maxRawBytes)
    .describe(
      'Largest raw record kept with a stored event, in bytes of JSON (after max_field_bytes): a larger one is kept as the start of its JSON text, with the marker',
    ),
};

/**
 * The `pipeline` section over a runner registry: `runner` chooses one of
 * its types, the shared fields every runner honours follow, then one
 * section `pipeline.<type>` per runner that declares a `configSchema`, so a
 * new runner brings its settings with its registry line. The registry
 * holds `embedded`, the default.
 *
 * @example pipelineConfigOf({ ...RUNNERS, mine: myRunner }).parse({ runner: 'mine' })
 */
export function pipelineConfigOf<R extends Record<string, RunnerFactory<unknown>>>(runners: R) {
  const choices = Object.values(runners)
    .map((r) => `${r.type} (${r.description})`)
    .join(', ');
  return z
    .strictObject({
      runner: z
        .enum(keysOf(runners))
        .default('embedded' as keyof R & string)
        .describe(
          `Pipeline runner (env AISOC_PIPELINE_RUNNER): ${choices}; more runners register in src/pipeline/runners.ts`,
        ),
      ...PIPELINE_FIELDS,
      journal: section(JournalConfig),
      ...declaredSectionsOf(runners),
    })
    .describe('Pipeline runner');
}

/** `pipeline`: the pipeline runner's settings (which runner; queues, retries, admission, event size limits). */
export const PipelineConfig = pipelineConfigOf(RUNNERS);
export type PipelineConfig = z.infer<typeof PipelineConfig>;
