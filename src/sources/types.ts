import type { Logger } from 'pino';
import type { z } from 'zod';
import type { EventDraft } from '../schema/event.ts';
import type { Framing } from './framing.ts';

export interface SourceContext {
  readonly logger: Logger;
}

/**
 * A telemetry source: turns records of one format into normalised events.
 * Sources are pure (no I/O) so the same code serves HTTP, files, syslog and
 * tests; receivers that listen on sockets are a separate component kind.
 */
export interface Source {
  readonly type: string;
  /**
   * How a body of bytes is cut into records: `json` (a JSON value, an array,
   * or NDJSON), `lines` (one text record per line, e.g. syslog), or the
   * source's own framer function for formats whose records need header
   * lines of the same document (Zeek TSV). See {@link Framing}.
   */
  readonly framing: Framing;
  /**
   * Expand one parsed JSON value into records: unwrap `{"Records": [...]}`,
   * EventBridge envelopes, and so on. Returns `[]` for values that hold no
   * events (a CloudTrail digest file). Throws a {@link ParseError} for a
   * value of the wrong shape. Default: the value itself.
   */
  unwrap?(value: unknown): unknown[];
  /**
   * Normalise one record into events (usually one; none for records that are
   * counted but not stored, such as Suricata `stats`). Throws a
   * {@link ParseError} naming the field for a bad record.
   */
  normalise(record: unknown): EventDraft[];
}

/**
 * The component contract for sources: `{ type, configSchema, create }`.
 * Adding a source is a folder under `src/sources/<type>/` and one line in
 * `src/sources/index.ts`.
 */
export interface SourceFactory<C = unknown> {
  readonly type: string;
  readonly description: string;
  readonly configSchema: z.ZodType<C>;
  /**
   * Which of its records carry the product's own verdict (a finding the
   * upstream detector passes through), when any: such a source alerts
   * without rules of ours.
   */
  readonly verdicts?: string;
  create(config: C, ctx: SourceContext): Source;
  /**
   * How likely (0–1) a parsed record (an object, or a text line for line
   * sources) is to belong to this source; used to detect the source of a file.
   */
  sniff?(record: unknown): number;
}
