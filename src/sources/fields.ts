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

/** Optional string: strings pass, numbers and booleans are stringified, null/undefined give undefined. */
export function optStr(o: Obj, key: string, field = key): string | undefined {
  const v = o[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new ParseError(`${field} must be a string, got ${typeName(v)}`, field);
}

export function reqStr(o: Obj, key: string, field = key): string {
  const v = optStr(o, key, field);
  if (v === undefined) throw new ParseError(`${field} is required`, field);
  return v;
}

/** Optional finite number; numeric strings are accepted. */
export function optNum(o: Obj, key: string, field = key): number | undefined {
  const v = o[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  throw new ParseError(`${field} must be a number, got ${typeName(v)}`, field);
}

export function optInt(o: Obj, key: string, field = key): number | undefined {
  const n = optNum(o, key, field);
  return n === undefined ? undefined : Math.trunc(n);
}

export function optPort(o: Obj, key: string, field = key): number | undefined {
  const n = optInt(o, key, field);
  if (n === undefined) return undefined;
  if (n < 0 || n > 65535) throw new ParseError(`${field} must be a port number 0–65535, got ${n}`, field);
  return n;
}

export function optBool(o: Obj, key: string, field = key): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'True') return true;
  if (v === 'false' || v === 'False') return false;
  throw new ParseError(`${field} must be a boolean, got ${typeName(v)}`, field);
}

export function optObj(o: Obj, key: string, field = key): Obj | undefined {
  const v = o[key];
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

const ISO_FAST = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$/;

/**
 * A timestamp as an ISO-8601 UTC string. Accepts ISO strings (with or
 * without zone; none means UTC), epoch seconds or milliseconds (number or
 * numeric string).
 */
export function toIsoTime(v: unknown, field: string): string {
  if (typeof v === 'string') {
    if (ISO_FAST.test(v) && v.endsWith('Z') && v.length === 20) return v.replace('Z', '.000Z');
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
