/**
 * A streaming CSV reader (RFC 4180: quoted fields, doubled quotes, CR LF,
 * newlines inside quotes) that yields one record at a time, so a large flow
 * export never has to fit in memory as text.
 */
import { createReadStream } from 'node:fs';
import { AisocError } from '../../errors.ts';

export interface CsvRecord {
  /** 1-based line where the record starts. */
  line: number;
  fields: string[];
}

/**
 * Parse CSV text chunks into records.
 *
 * @example
 * for await (const rec of parseCsv(createReadStream('flows.csv', 'utf8'))) console.log(rec.fields);
 */
export async function* parseCsv(
  chunks: AsyncIterable<string | Buffer> | Iterable<string>,
): AsyncGenerator<CsvRecord> {
  let field = '';
  let fields: string[] = [];
  let inQuotes = false;
  let quotePending = false; // saw a quote inside a quoted field: either "" or the closing quote
  let line = 1;
  let recordLine = 1;
  let afterCr = false;
  let any = false;
  for await (const raw of chunks) {
    const chunk = typeof raw === 'string' ? raw : raw.toString('utf8');
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const ch = chunk.charCodeAt(i);
      if (inQuotes) {
        if (quotePending) {
          quotePending = false;
          if (ch === 34) {
            // "" inside quotes is one quote character: keep this second one as text.
            field += chunk.slice(start, i);
            start = i;
            continue;
          }
          inQuotes = false;
          // fall through: this character follows the closing quote
        } else {
          if (ch === 34) {
            field += chunk.slice(start, i);
            start = i + 1;
            quotePending = true;
          } else if (ch === 10) line++;
          continue;
        }
      }
      if (ch === 44) {
        fields.push(field + chunk.slice(start, i));
        field = '';
        start = i + 1;
        any = true;
      } else if (ch === 10 || ch === 13) {
        if (ch === 10 && afterCr) {
          afterCr = false;
          start = i + 1;
          continue;
        }
        afterCr = ch === 13;
        const last = field + chunk.slice(start, i);
        if (any || last.length > 0) {
          fields.push(last);
          yield { line: recordLine, fields };
        }
        fields = [];
        field = '';
        any = false;
        start = i + 1;
        line++;
        recordLine = line;
        continue;
      } else if (ch === 34 && field.length === 0 && start === i) {
        inQuotes = true;
        any = true;
        start = i + 1;
      }
      afterCr = false;
    }
    field += chunk.slice(start);
  }
  if (inQuotes && !quotePending) {
    throw new AisocError(
      'AISOC_ERR_PARSE',
      `The CSV ends inside a quoted field that starts on line ${recordLine}.`,
      {
        line: recordLine,
      },
    );
  }
  if (any || field.length > 0) {
    fields.push(field);
    yield { line: recordLine, fields };
  }
}

/** Records of a CSV file, streamed. */
export function readCsvFile(path: string): AsyncGenerator<CsvRecord> {
  return parseCsv(createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 }));
}

/** A record with its header: cells by column name, for feature modules. */
export class CsvRow {
  constructor(
    private readonly index: ReadonlyMap<string, number>,
    readonly fields: readonly string[],
    readonly line: number,
  ) {}

  /** The cell of a column, or undefined when the file has no such column. */
  get(column: string): string | undefined {
    const i = this.index.get(column);
    return i === undefined ? undefined : this.fields[i];
  }

  has(column: string): boolean {
    return this.index.has(column);
  }
}

/** Map header names (trimmed, as CICFlowMeter pads some with spaces) to their positions. */
export function headerIndex(header: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  header.forEach((h, i) => {
    const name = h.replace(/^\uFEFF/, '').trim();
    if (!m.has(name)) m.set(name, i);
  });
  return m;
}
