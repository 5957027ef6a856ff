/**
 * The contract of a feature module: one per feature set, and the only code
 * that turns input into model features — `aisoc train` calls `fromRow` or
 * `fromEvent`, and the server and pipeline call the same functions, so a
 * model is never served vectors built differently from the ones it was
 * trained on (the fault of the system this replaces: zero-padded vectors).
 */
import { AisocError } from '../../../errors.ts';
import type { EventDraft } from '../../../schema/event.ts';
import type { CsvRow } from '../csv.ts';

/** What training data a feature set reads. */
export type FeatureInput = 'csv' | 'events';

export interface FeatureSet<S = unknown> {
  readonly name: string;
  /** Bumped whenever a column's meaning changes; models record it and refuse a mismatch. */
  readonly version: number;
  readonly description: string;
  /** Output feature names, in vector order. */
  readonly columns: readonly string[];
  /** The training input this set is built from by default. */
  readonly input: FeatureInput;
  /** Label of the benign class in this set's usual data (false-positive rate and detection use it). */
  readonly negativeLabel: string;
  /** Input columns a CSV needs, for a message naming the missing ones before any row is read. */
  requiredColumns(header: ReadonlyMap<string, number>): string[];
  /** Features of one CSV row; throws {@link FeatureError} naming the column at fault. */
  fromRow(row: CsvRow): number[];
  /**
   * Features of one normalised event, or undefined when the event is not of
   * the kind this set describes. Stateful sets read and then update `state`.
   */
  fromEvent(event: EventDraft, state?: S): number[] | undefined;
  /** Fresh behavioural state (stateful sets only). */
  newState?(): S;
}

/** A bad value in an input row: the column and the reason, so the loader can count and report it. */
export class FeatureError extends AisocError {
  constructor(
    readonly column: string,
    reason: string,
  ) {
    super('AISOC_ERR_VALIDATION', `column ${JSON.stringify(column)}: ${reason}`, { field: column });
  }
}

/**
 * Parse one numeric cell. Empty and non-numeric cells are errors; the
 * strings CICFlowMeter and pandas write for undefined rates (`Infinity`,
 * `NaN`, `inf`) are returned as the non-finite numbers they stand for.
 *
 * @example
 * numberCell(row, 'Flow Duration'); // 245
 */
export function numberCell(row: CsvRow, column: string): number {
  const raw = row.get(column);
  if (raw === undefined) throw new FeatureError(column, 'the column is missing');
  const s = raw.trim();
  if (s === '') throw new FeatureError(column, 'the cell is empty');
  const n = Number(s);
  if (!Number.isNaN(n)) return n;
  const lower = s.toLowerCase();
  if (lower === 'infinity' || lower === 'inf' || lower === '+infinity' || lower === '+inf')
    return Number.POSITIVE_INFINITY;
  if (lower === '-infinity' || lower === '-inf') return Number.NEGATIVE_INFINITY;
  if (lower === 'nan') return Number.NaN;
  throw new FeatureError(column, `${JSON.stringify(s.slice(0, 40))} is not a number`);
}

/** 1 for true, 0 for false: features are numbers. */
export function flag(b: boolean | undefined): number {
  return b ? 1 : 0;
}
