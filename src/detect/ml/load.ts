/**
 * Reading training and evaluation data through a feature set: CSV flow
 * exports (`fromRow`) and labelled CloudTrail JSONL from `aisoc label`
 * (`fromEvent`, replayed in time order so behavioural state evolves as it
 * would have live). Bad rows are skipped and counted by reason; a file that
 * lacks a needed column fails at once, naming it.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { AisocError, describeError } from '../../errors.ts';
import type { EventDraft } from '../../schema/event.ts';
import { normaliseCloudTrail } from '../../sources/cloudtrail/parse.ts';
import { CsvRow, headerIndex, parseCsv } from './csv.ts';
import type { Dataset } from './dataset.ts';
import { canonicalHeader } from './features/cicflowmeter.ts';
import { identityKey } from './features/cloudtrail-common.ts';
import { FeatureError, type FeatureSet } from './features/types.ts';

export interface LoadReport {
  file: string;
  /** SHA-256 of the file's bytes: which data a model was trained on. */
  fingerprint: string;
  /** What grouped the rows for splits: a CSV column, `identity+minute` for events, or null (each row alone). */
  group_column: string | null;
  /** What timed the rows for splits by time: a CSV column, `eventTime` for events, or null (no times). */
  time_column: string | null;
  rows_read: number;
  rows_used: number;
  /** Skipped rows by reason. */
  skipped: Record<string, number>;
  /** The first few skipped rows, with line and reason. */
  examples: string[];
}

export interface LoadOptions {
  /** Column holding the class (CSV). */
  labelColumn?: string;
  /** Column whose value groups rows for the split (CSV); default `Flow ID` when the file has it, else each row alone. */
  groupColumn?: string;
  /** Column holding each row's time (CSV), for splits by time; default `Timestamp` when the file has it. */
  timeColumn?: string;
  onProgress?: (rows: number) => void;
}

export interface Loaded {
  dataset: Dataset;
  /** Class name of every row, in row order (the dataset's classes are sorted names). */
  report: LoadReport;
  /** Events in the order their features were computed (event input only), for labelling and inspection. */
  events?: EventDraft[];
}

/** A growable row-major float32 matrix. */
class Rows {
  data: Float32Array;
  n = 0;
  constructor(private readonly cols: number) {
    this.data = new Float32Array(cols * 4096);
  }
  push(v: readonly number[]): void {
    if ((this.n + 1) * this.cols > this.data.length) {
      const grown = new Float32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    for (let f = 0; f < this.cols; f++) this.data[this.n * this.cols + f] = v[f]!;
    this.n++;
  }
}

/** Stream a file's text while hashing its bytes. */
async function* hashedText(path: string, hash: ReturnType<typeof createHash>): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    yield decoder.write(chunk as Buffer);
  }
  const tail = decoder.end();
  if (tail) yield tail;
}

function mustExist(path: string): void {
  if (!existsSync(path))
    throw new AisocError('AISOC_ERR_NOT_FOUND', `The data file ${path} does not exist.`, { field: 'data' });
}

class Skips {
  readonly counts: Record<string, number> = {};
  readonly examples: string[] = [];
  add(reason: string, where: string, detail: string): void {
    this.counts[reason] = (this.counts[reason] ?? 0) + 1;
    if (this.examples.length < 5) this.examples.push(`${where}: ${detail}`);
  }
}

/**
 * A flow export's timestamp as ms since the epoch (fraction kept), read as
 * UTC: only the order matters for a split. CICFlowMeter writes
 * `2017-07-03 11:57:51.590705`; other ISO 8601 forms go through Date.parse.
 * NaN when it is not a time.
 *
 * @example
 * parseRowTime('2017-07-03 11:57:51.590705'); // 1499083071590.705
 */
export function parseRowTime(text: string): number {
  const m = /^\s*(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?\s*$/.exec(text);
  if (m) {
    const whole = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +(m[6] ?? 0));
    return whole + (m[7] ? Number(`0.${m[7]}`) * 1000 : 0);
  }
  const t = Date.parse(text);
  return Number.isFinite(t) ? t : Number.NaN;
}

function finishDataset(
  fs: FeatureSet,
  rows: Rows,
  labels: string[],
  groups: string[],
  classes?: readonly string[],
  times?: number[],
): Dataset {
  const names = classes ? [...classes] : [...new Set(labels)].sort();
  const extra = [...new Set(labels)].filter((l) => !names.includes(l)).sort();
  names.push(...extra);
  const index = new Map(names.map((c, i) => [c, i]));
  const y = Int32Array.from(labels, (l) => index.get(l)!);
  return {
    rows: rows.n,
    cols: fs.columns.length,
    x: rows.data.slice(0, rows.n * fs.columns.length),
    y,
    labels: names,
    featureNames: fs.columns,
    groups,
    ...(times ? { times: Float64Array.from(times) } : {}),
  };
}

/**
 * Load a CSV through a feature set.
 *
 * @example
 * const { dataset, report } = await loadCsv('flows.csv', cicflowmeter, { labelColumn: 'Label', groupColumn: 'Flow ID' });
 */
export async function loadCsv(
  path: string,
  fs: FeatureSet,
  options: LoadOptions & { classes?: readonly string[] } = {},
): Promise<Loaded> {
  mustExist(path);
  const labelColumn = options.labelColumn ?? 'Label';
  const hash = createHash('sha256');
  const rows = new Rows(fs.columns.length);
  const labels: string[] = [];
  const groups: string[] = [];
  const times: number[] = [];
  const skips = new Skips();
  let header: Map<string, number> | undefined;
  let groupColumn = options.groupColumn;
  let timeColumn = options.timeColumn;
  let width = 0;
  let read = 0;
  for await (const rec of parseCsv(hashedText(path, hash))) {
    if (!header) {
      header = canonicalHeader(headerIndex(rec.fields));
      width = rec.fields.length;
      const missing = fs.requiredColumns(header);
      if (!header.has(labelColumn)) missing.push(labelColumn);
      if (groupColumn && !header.has(groupColumn)) missing.push(groupColumn);
      if (timeColumn && !header.has(timeColumn)) missing.push(timeColumn);
      if (!groupColumn && header.has('Flow ID')) groupColumn = 'Flow ID';
      if (!timeColumn && header.has('Timestamp')) timeColumn = 'Timestamp';
      if (missing.length)
        throw new AisocError(
          'AISOC_ERR_VALIDATION',
          `${path} lacks the column${missing.length > 1 ? 's' : ''} ${missing.map((m) => JSON.stringify(m)).join(', ')} that feature set ${fs.name} needs.`,
          { field: missing[0], file: path, line: rec.line },
        );
      continue;
    }
    read++;
    if (read % 5000 === 0) options.onProgress?.(read);
    if (rec.fields.length !== width) {
      skips.add(
        'wrong number of fields',
        `line ${rec.line}`,
        `${rec.fields.length} fields, header has ${width}`,
      );
      continue;
    }
    const row = new CsvRow(header, rec.fields, rec.line);
    const label = row.get(labelColumn)!.trim();
    if (!label) {
      skips.add('empty label', `line ${rec.line}`, `column ${labelColumn} is empty`);
      continue;
    }
    // A time that does not parse stays NaN: only a split by time needs it, and that split names the row.
    const time = timeColumn ? parseRowTime(row.get(timeColumn)!) : Number.NaN;
    let v: number[];
    try {
      v = fs.fromRow(row);
    } catch (err) {
      if (err instanceof FeatureError) {
        skips.add(`bad value in ${err.column}`, `line ${rec.line}`, err.message);
        continue;
      }
      throw err;
    }
    rows.push(v);
    labels.push(label);
    groups.push(groupColumn ? row.get(groupColumn)! : `row:${rec.line}`);
    if (timeColumn) times.push(time);
  }
  if (!header) throw new AisocError('AISOC_ERR_VALIDATION', `${path} is empty.`, { file: path });
  return {
    dataset: finishDataset(fs, rows, labels, groups, options.classes, timeColumn ? times : undefined),
    report: {
      file: path,
      fingerprint: hash.digest('hex'),
      group_column: groupColumn ?? null,
      time_column: timeColumn ?? null,
      rows_read: read,
      rows_used: rows.n,
      skipped: skips.counts,
      examples: skips.examples,
    },
  };
}

/** One line of `aisoc label` output. */
export interface LabelledRecord {
  label: string;
  labeller: string;
  reason?: string;
  record: unknown;
}

/**
 * Load labelled CloudTrail records (JSON lines from `aisoc label`) through
 * an event feature set, in event-time order.
 */
export async function loadLabelledEvents(
  path: string,
  fs: FeatureSet,
  options: { classes?: readonly string[]; onProgress?: (rows: number) => void } = {},
): Promise<Loaded> {
  mustExist(path);
  const hash = createHash('sha256');
  const skips = new Skips();
  const items: Array<{ event: EventDraft; label: string; line: number }> = [];
  let text = '';
  for await (const chunk of hashedText(path, hash)) text += chunk;
  let read = 0;
  text.split('\n').forEach((lineText, i) => {
    const line = i + 1;
    if (!lineText.trim()) return;
    read++;
    let obj: Partial<LabelledRecord>;
    try {
      obj = JSON.parse(lineText) as Partial<LabelledRecord>;
    } catch {
      skips.add('invalid JSON', `line ${line}`, 'not a JSON object');
      return;
    }
    if (typeof obj.label !== 'string' || !obj.label) {
      skips.add('missing label', `line ${line}`, 'no "label" string');
      return;
    }
    try {
      for (const d of normaliseCloudTrail(obj.record)) items.push({ event: d, label: obj.label, line });
    } catch (err) {
      skips.add('not a CloudTrail record', `line ${line}`, describeError(err));
    }
  });
  // Behavioural features depend on order: replay in event time (ties keep file order).
  items.sort((a, b) => Date.parse(a.event.time) - Date.parse(b.event.time) || a.line - b.line);
  const state = fs.newState?.();
  const rows = new Rows(fs.columns.length);
  const labels: string[] = [];
  const groups: string[] = [];
  const times: number[] = [];
  const events: EventDraft[] = [];
  for (const it of items) {
    const v = fs.fromEvent(it.event, state);
    if (!v) {
      skips.add('not described by this feature set', `line ${it.line}`, `${fs.name} does not apply`);
      continue;
    }
    rows.push(v);
    labels.push(it.label);
    // An identity's calls within one minute stay on one side of a split: they are near-copies.
    groups.push(`${identityKey(it.event)}|${it.event.time.slice(0, 16)}`);
    times.push(Date.parse(it.event.time));
    events.push(it.event);
  }
  options.onProgress?.(read);
  return {
    dataset: finishDataset(fs, rows, labels, groups, options.classes, times),
    report: {
      file: path,
      fingerprint: hash.digest('hex'),
      group_column: 'identity+minute',
      time_column: 'eventTime',
      rows_read: read,
      rows_used: rows.n,
      skipped: skips.counts,
      examples: skips.examples,
    },
    events,
  };
}

/** Load a data file by its kind: `.csv` through `fromRow`, anything else as labelled JSON lines through `fromEvent`. */
export function loadData(
  path: string,
  fs: FeatureSet,
  options: LoadOptions & { classes?: readonly string[] } = {},
): Promise<Loaded> {
  return path.toLowerCase().endsWith('.csv')
    ? loadCsv(path, fs, options)
    : loadLabelledEvents(path, fs, options);
}
