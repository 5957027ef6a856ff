import { AisocError } from '../errors.ts';

/**
 * Typed accessors for untrusted records: each one names the field when the
 * value has the wrong type, so a bad record becomes a dead letter with a
 * reason a person can act on.
 */
export class ParseError extends AisocError {
  constructor(message: string, field?: string) {
    super('AISOC_ERR_PARSE', message, field === undefined ? {} : { field });
    this.name = 'ParseError';
  }
}

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function asObj(v: unknown, field = 'record'): Obj {
  if (!isObj(v)) throw new ParseError(`${field} must be a JSON object, got ${typeName(v)}`, field);
  return v;
}

export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/*
 * Keyed readers, `optStr(o, 'userName', 'userIdentity.userName')`: the
 * checks of the value readers below on `o[key]`. Normalisers that run per
 * event call the value readers with the field read by name instead (see there).
 */

/** Optional string: strings pass, numbers and booleans are stringified, null/undefined give undefined. */
export function optStr(o: Obj, key: string, field = key): string | undefined {
  return strOf(o[key], field);
}

export function reqStr(o: Obj, key: string, field = key): string {
  return reqStrOf(o[key], field);
}

/** Optional finite number; numeric strings are accepted. */
export function optNum(o: Obj, key: string, field = key): number | undefined {
  return numOf(o[key], field);
}

export function optInt(o: Obj, key: string, field = key): number | undefined {
  return intOf(o[key], field);
}

export function optPort(o: Obj, key: string, field = key): number | undefined {
  return portOf(o[key], field);
}

export function optBool(o: Obj, key: string, field = key): boolean | undefined {
  return boolOf(o[key], field);
}

export function optObj(o: Obj, key: string, field = key): Obj | undefined {
  return objOf(o[key], field);
}

/*
 * The same checks on a value already read: `strOf(o.userName, 'userIdentity.userName')`.
 * Normalisers that run per event read each field by name at the call site, a
 * property load V8 caches per site, where `optStr(o, key)` reads `o[key]` with
 * a key that changes from call to call (a generic lookup, several times
 * slower), and name the field with a constant rather than a string built per call.
 */

/** Optional string of a value already read: strings pass, numbers and booleans are stringified. */
export function strOf(v: unknown, field: string): string | undefined {
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new ParseError(`${field} must be a string, got ${typeName(v)}`, field);
}

/** Required string of a value already read. */
export function reqStrOf(v: unknown, field: string): string {
  const s = strOf(v, field);
  if (s === undefined) throw new ParseError(`${field} is required`, field);
  return s;
}

/** Optional finite number of a value already read; numeric strings are accepted. */
export function numOf(v: unknown, field: string): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  throw new ParseError(`${field} must be a number, got ${typeName(v)}`, field);
}

/** Optional integer (truncated) of a value already read. */
export function intOf(v: unknown, field: string): number | undefined {
  const n = numOf(v, field);
  return n === undefined ? undefined : Math.trunc(n);
}

/** Optional port 0–65535 of a value already read. */
export function portOf(v: unknown, field: string): number | undefined {
  const n = intOf(v, field);
  if (n === undefined) return undefined;
  if (n < 0 || n > 65535) throw new ParseError(`${field} must be a port number 0–65535, got ${n}`, field);
  return n;
}

/** Optional boolean of a value already read (`'true'`/`'false'` accepted). */
export function boolOf(v: unknown, field: string): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (v === undefined || v === null) return undefined;
  if (v === 'true' || v === 'True') return true;
  if (v === 'false' || v === 'False') return false;
  throw new ParseError(`${field} must be a boolean, got ${typeName(v)}`, field);
}

/** Optional object of a value already read. */
export function objOf(v: unknown, field: string): Obj | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw new ParseError(`${field} must be an object, got ${typeName(v)}`, field);
  return v;
}

/** Follow a dotted path (`a.b.c`) through nested objects. */
export function getPath(o: unknown, path: string): unknown {
  let cur: unknown = o;
  for (const part of path.split('.')) {
    if (!isObj(cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}

/**
 * A timestamp as an ISO-8601 UTC string. Accepts ISO strings (with or
 * without zone; none means UTC), epoch seconds or milliseconds (number or
 * numeric string).
 */
export function toIsoTime(v: unknown, field: string): string {
  if (typeof v === 'string') {
    if (v.length === 20 && isIsoSecondsZ(v)) return `${v.slice(0, 19)}.000Z`;
    const s = v.trim();
    let ms: number;
    if (/^\d+(\.\d+)?$/.test(s)) ms = epochToMs(Number(s));
    else {
      const withZone = /[zZ]|[+-]\d{2}:?\d{2}$/.test(s) ? s : `${s.replace(' ', 'T')}Z`;
      ms = Date.parse(withZone);
      if (Number.isNaN(ms)) ms = Date.parse(s);
    }
    if (!Number.isFinite(ms))
      throw new ParseError(`${field} is not a valid timestamp: ${JSON.stringify(v.slice(0, 64))}`, field);
    return checkedIso(ms, field);
  }
  if (typeof v === 'number' && Number.isFinite(v)) return checkedIso(epochToMs(v), field);
  if (v === undefined || v === null) throw new ParseError(`${field} is required`, field);
  throw new ParseError(`${field} must be a timestamp, got ${typeName(v)}`, field);
}

/**
 * `YYYY-MM-DDTHH:MM:SSZ` (the 20-character form the ISO pattern
 * `\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})` admits), checked by character: CloudTrail writes every eventTime so, and the
 * regular expression was a visible share of its normalisation.
 */
function isIsoSecondsZ(v: string): boolean {
  for (let i = 0; i < 19; i++) {
    const c = v.charCodeAt(i);
    const want = i === 4 || i === 7 ? 45 : i === 10 ? 84 : i === 13 || i === 16 ? 58 : -1;
    if (want < 0 ? c < 48 || c > 57 : c !== want) return false;
  }
  if (v.charCodeAt(19) !== 90) return false;
  // The digits must also name a real instant (no 13th month, 30 February or 24:00), as Date.parse requires.
  const year = twoDigits(v, 0) * 100 + twoDigits(v, 2);
  const month = twoDigits(v, 5);
  const day = twoDigits(v, 8);
  if (
    month < 1 ||
    month > 12 ||
    day < 1 ||
    twoDigits(v, 11) > 23 ||
    twoDigits(v, 14) > 59 ||
    twoDigits(v, 17) > 59
  )
    return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return (
    day <=
    (month === 2 ? (leap ? 29 : 28) : month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31)
  );
}

/**
 * The two digits of `v` at `i` as a number (checked to be digits by the caller). A function of
 * the module rather than a closure per call: tsx (keepNames) names every closure it creates,
 * a property definition per call.
 */
function twoDigits(v: string, i: number): number {
  return (v.charCodeAt(i) - 48) * 10 + v.charCodeAt(i + 1) - 48;
}

function epochToMs(n: number): number {
  // Seconds until the year 5138; beyond that the number is milliseconds (or microseconds).
  if (n < 1e11) return n * 1000;
  if (n < 1e14) return n;
  return n / 1000;
}

function checkedIso(ms: number, field: string): string {
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  if (Number.isNaN(d.getTime()) || y < 1970 || y > 9999)
    throw new ParseError(`${field} is out of range`, field);
  return d.toISOString();
}
