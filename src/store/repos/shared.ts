/** What every record family's modules share: the page type, the filter builder, the limit clamp. */

/** One page of a list and how many records match in all. */
export interface ListResult<T> {
  items: T[];
  total: number;
}

/** A row as either driver returns it. */
export type Row = Record<string, unknown>;

/** A page size between 1 and 1,000, `fallback` when none is asked for. */
export function clampLimit(limit: number | undefined, fallback = 50): number {
  return Math.max(1, Math.min(limit ?? fallback, 1000));
}

/**
 * Builds a WHERE clause with numbered parameters.
 *
 * @example
 * const w = new Where();
 * w.add('source = ?', 'cloudtrail');
 * await db.query(`SELECT count(*) AS n FROM events ${w.sql}`, w.params);
 */
export class Where {
  readonly parts: string[] = [];
  readonly params: unknown[] = [];
  add(sqlWithPlaceholder: string, ...values: unknown[]): void {
    let s = sqlWithPlaceholder;
    for (const v of values) {
      this.params.push(v);
      s = s.replace('?', `$${this.params.length}`);
    }
    this.parts.push(s);
  }
  get sql(): string {
    return this.parts.length ? `WHERE ${this.parts.join(' AND ')}` : '';
  }
  next(): string {
    return `$${this.params.length + 1}`;
  }
}
