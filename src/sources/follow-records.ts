import { AisocError } from '../errors.ts';
import type { FramedRecord } from './framing.ts';
import type { Source } from './types.ts';

/**
 * Refuse sources that cannot be followed line by line: a framer function
 * frames whole documents (Zeek TSV lines need the header lines before them;
 * the windows framer joins pretty-printed objects across lines), so a batch
 * of appended lines would not mean what the document means.
 *
 * @example assertFollowable(registry.get('zeek')) // throws AisocError naming `source`
 */
export function assertFollowable(source: Source): void {
  if (typeof source.framing === 'function')
    throw new AisocError(
      'AISOC_ERR_VALIDATION',
      `--follow reads a file line by line, but the ${source.type} source frames whole documents (its framing is its own function, not 'json' or 'lines'); ingest the file without --follow`,
      { field: 'source' },
    );
}

/**
 * Records for a source from followed lines: a text line per record for
 * `lines` sources, a parsed value per line for JSON (NDJSON) sources. A
 * line that is not JSON stays its text, for the source to dead-letter with
 * the line kept, instead of refusing the whole batch.
 *
 * @example linesToRecords(registry.get('suricata'), ['{"event_type":"alert"}']) // [{ value: { event_type: 'alert' } }]
 */
export function linesToRecords(source: Source, lines: string[]): FramedRecord[] {
  assertFollowable(source);
  if (source.framing === 'lines') return lines.map((value) => ({ value }));
  return lines.map((line) => {
    try {
      return { value: JSON.parse(line) as unknown };
    } catch {
      return { value: line };
    }
  });
}
