/**
 * Timestamps in syslog headers. RFC 5424 carries a full RFC 3339 time; BSD
 * (RFC 3164) headers carry `Mmm dd hh:mm:ss` with neither year nor zone, so
 * both are supplied: the zone from configuration (UTC by default), the year
 * by {@link inferYear}.
 */

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** A BSD timestamp may run this far ahead of the receiver's clock (clock skew) before it is read as last year's. */
export const FUTURE_TOLERANCE_MS = 7 * 86_400_000;

export interface WallTime {
  year?: number;
  month: number; // 1–12
  day: number;
  hour: number;
  minute: number;
  second: number;
  millis: number;
}

/** Month number (1–12) of an English three-letter abbreviation, or undefined. */
export function monthOf(abbrev: string): number | undefined {
  const i = MONTHS.indexOf(abbrev.slice(0, 3).toLowerCase());
  return i < 0 ? undefined : i + 1;
}

function validWall(w: WallTime): boolean {
  return (
    w.month >= 1 &&
    w.month <= 12 &&
    w.day >= 1 &&
    w.day <= 31 &&
    w.hour <= 23 &&
    w.minute <= 59 &&
    w.second <= 60 // 60: a leap second, which Date folds into the next minute
  );
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(tz, f);
  }
  return f;
}

const FIXED_OFFSET = /^([+-])(\d{2}):?(\d{2})$/;

/** Whether `tz` is `UTC`, a fixed offset (`+02:00`) or an IANA zone name this Node knows. */
export function isValidTimeZone(tz: string): boolean {
  if (tz === 'UTC' || tz === 'Z' || FIXED_OFFSET.test(tz)) return true;
  try {
    formatterFor(tz);
    return true;
  } catch {
    return false;
  }
}

/** Offset of `tz` from UTC at the instant `utcMs`, in minutes (east positive). */
export function zoneOffsetMinutes(tz: string, utcMs: number): number {
  if (tz === 'UTC' || tz === 'Z') return 0;
  const fixed = FIXED_OFFSET.exec(tz);
  if (fixed) return (fixed[1] === '-' ? -1 : 1) * (Number(fixed[2]) * 60 + Number(fixed[3]));
  const parts: Record<string, number> = {};
  for (const p of formatterFor(tz).formatToParts(new Date(utcMs))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  const asUtc = Date.UTC(
    parts.year!,
    parts.month! - 1,
    parts.day!,
    parts.hour!,
    parts.minute!,
    parts.second!,
  );
  return Math.round((asUtc - (utcMs - (utcMs % 1000))) / 60_000);
}

/**
 * The UTC instant of a wall-clock time in zone `tz`, or undefined when the
 * date does not exist (30 February). Across a DST change the offset in force
 * at the instant is used.
 */
export function wallToUtc(w: WallTime & { year: number }, tz: string): number | undefined {
  if (!validWall(w)) return undefined;
  const guess = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second, w.millis);
  const check = new Date(guess);
  if (check.getUTCDate() !== w.day && w.second !== 60) return undefined;
  if (w.year < 1970 || w.year > 9999) return undefined;
  const first = guess - zoneOffsetMinutes(tz, guess) * 60_000;
  const second = guess - zoneOffsetMinutes(tz, first) * 60_000;
  return second;
}

/**
 * The year of a BSD timestamp, which has none: of last year, this year and
 * next year (by the clock `now`), the one that puts the timestamp nearest to
 * `now` without being more than {@link FUTURE_TOLERANCE_MS} ahead of it. So
 * a December line read on 2 January belongs to the old year, a line of
 * 1 January 00:00:05 received at 23:59:59 on 31 December (a sender clock a
 * little fast) to the new one, and a file of last March read in November to
 * this year. Files older than a year cannot be dated this way: configure
 * `sources.syslog.year` to replay them.
 *
 * @example inferYear({ month: 12, day: 31, hour: 23, minute: 0, second: 0, millis: 0 }, 'UTC', new Date('2027-01-02T00:00:00Z')) // 2026
 */
export function inferYear(w: WallTime, tz: string, now: Date): number | undefined {
  // Remembered per hour of the line and of the clock (a log has few distinct days); this moves the
  // 7-day edge by less than an hour, which no sender's clock is precise to anyway.
  const key = `${tz}|${w.month}|${w.day}|${w.hour}|${Math.floor(now.getTime() / 3_600_000)}`;
  if (yearCache.has(key)) return yearCache.get(key);
  const year = inferYearUncached(w, tz, now);
  if (yearCache.size >= 4096) yearCache.clear();
  yearCache.set(key, year);
  return year;
}

const yearCache = new Map<string, number | undefined>();

function inferYearUncached(w: WallTime, tz: string, now: Date): number | undefined {
  const nowMs = now.getTime();
  const y = now.getUTCFullYear();
  let best: { year: number; distance: number } | undefined;
  for (const year of [y - 1, y, y + 1]) {
    const t = wallToUtc({ ...w, year }, tz);
    if (t === undefined || t - nowMs > FUTURE_TOLERANCE_MS) continue;
    const distance = Math.abs(t - nowMs);
    if (!best || distance < best.distance) best = { year, distance };
  }
  return best?.year;
}

function fraction(frac: string | undefined): number {
  if (!frac) return 0;
  return Math.floor(Number(`0.${frac}`) * 1000);
}

export interface ParsedTime {
  /** ISO-8601 UTC. */
  iso: string;
  /** The rest of the text after the timestamp and the spaces that follow it. */
  rest: string;
  /** Whether the year came from the text (false: inferred or configured). */
  has_year: boolean;
  /** Whether the text named its zone (false: the configured zone was assumed). */
  has_zone: boolean;
}

// `Mmm dd hh:mm:ss[.frac]`, optionally with the year after the day (Cisco) and a `:` after the time.
const BSD = /^([A-Za-z]{3}) {1,2}(\d{1,2}) (?:(\d{4}) )?(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?:?(?: +|$)/;
// `yyyy Mmm dd hh:mm:ss` (syslog-ng with the year in front).
const BSD_YEAR_FIRST =
  /^(\d{4}) ([A-Za-z]{3}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?: +|$)/;
// RFC 3339 / ISO 8601, with `T` or a space, zone optional (`Z`, `+01:00` or `-0700`).
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(Z|z|[+-]\d{2}:?\d{2})?(?: +|$)/;

export interface TimeOptions {
  /** Zone assumed for timestamps without one. */
  timezone: string;
  /** Year for timestamps without one; undefined: inferred from `now`. */
  year?: number;
  now: Date;
}

/** Parse an RFC 3339 timestamp (`1985-04-12T23:20:50.52Z`) as RFC 5424 requires it, whole. */
export function parseRfc3339(text: string): number | undefined {
  const m = ISO.exec(text);
  if (!m || m[0].trimEnd().length !== text.length || !m[8]) return undefined;
  return isoMatchToMs(m, 'UTC');
}

function isoMatchToMs(m: RegExpExecArray, tz: string): number | undefined {
  const w = {
    year: Number(m[1]),
    month: Number(m[2]),
    day: Number(m[3]),
    hour: Number(m[4]),
    minute: Number(m[5]),
    second: Number(m[6]),
    millis: fraction(m[7]),
  };
  const zone = m[8];
  if (!zone) return wallToUtc(w, tz);
  const local = wallToUtc(w, 'UTC');
  if (local === undefined) return undefined;
  return local - zoneOffsetMinutes(zone.toUpperCase() === 'Z' ? 'UTC' : zone, 0) * 60_000;
}

/**
 * Parse the timestamp at the start of `text` in any of the forms syslog
 * daemons write: BSD (`Feb  3 04:05:06`, with or without a year), RFC 3339
 * (`2026-02-03T04:05:06.123456+01:00`) and ISO with a space
 * (`2026-02-03 04:05:06.123-0700`). Undefined when none matches or the date
 * does not exist.
 *
 * @example
 * parseLeadingTime('Feb  3 04:05:06 web1 sshd[1]: x', { timezone: 'UTC', now: new Date('2026-06-01T00:00:00Z') })
 * // { iso: '2026-02-03T04:05:06.000Z', rest: 'web1 sshd[1]: x', has_year: false, has_zone: false }
 */
export function parseLeadingTime(text: string, opts: TimeOptions): ParsedTime | undefined {
  let m = BSD.exec(text);
  if (m) {
    const month = monthOf(m[1]!);
    if (month === undefined) return undefined;
    const w: WallTime = {
      month,
      day: Number(m[2]),
      hour: Number(m[4]),
      minute: Number(m[5]),
      second: Number(m[6]),
      millis: fraction(m[7]),
    };
    const given = m[3] ? Number(m[3]) : undefined;
    const year = given ?? opts.year ?? inferYear(w, opts.timezone, opts.now);
    if (year === undefined) return undefined;
    const t = wallToUtc({ ...w, year }, opts.timezone);
    if (t === undefined) return undefined;
    return finish(t, text.slice(m[0].length), given !== undefined, false);
  }
  m = BSD_YEAR_FIRST.exec(text);
  if (m) {
    const month = monthOf(m[2]!);
    if (month === undefined) return undefined;
    const t = wallToUtc(
      {
        year: Number(m[1]),
        month,
        day: Number(m[3]),
        hour: Number(m[4]),
        minute: Number(m[5]),
        second: Number(m[6]),
        millis: fraction(m[7]),
      },
      opts.timezone,
    );
    if (t === undefined) return undefined;
    return finish(t, text.slice(m[0].length), true, false);
  }
  m = ISO.exec(text);
  if (m) {
    const t = isoMatchToMs(m, opts.timezone);
    if (t === undefined) return undefined;
    return finish(t, text.slice(m[0].length), true, m[8] !== undefined);
  }
  return undefined;
}

function finish(ms: number, rest: string, hasYear: boolean, hasZone: boolean): ParsedTime | undefined {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime()) || d.getUTCFullYear() < 1970 || d.getUTCFullYear() > 9999) return undefined;
  return { iso: d.toISOString(), rest, has_year: hasYear, has_zone: hasZone };
}
