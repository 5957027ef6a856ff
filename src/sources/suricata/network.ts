/**
 * Helpers shared by the network-sensor sources (Suricata here, Zeek imports
 * them): sensor timestamps with microseconds, home-network direction, IP
 * checks, observables and a content hash for records without an id.
 */
import { z } from 'zod';
import type { Network, Observable } from '../../schema/event.ts';
import { ParseError, typeName } from '../fields.ts';

/** A sensor timestamp: ISO-8601 UTC with microseconds, and epoch microseconds for arithmetic. */
export interface SensorTime {
  iso: string;
  us: number;
}

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(?:(Z|z)|([+-])(\d{2}):?(\d{2})?)?$/;
const DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const MIN_US = 0;
const MAX_US = Date.UTC(10000, 0, 1) * 1000;

/**
 * Parse a sensor timestamp, keeping microseconds: Suricata writes
 * `2017-03-24T19:11:16.123456+0000` (offset without colon; some versions no
 * zone at all, read as UTC), Zeek JSON writes ISO with `Z` or epoch seconds
 * with a fraction. Numbers and numeric strings are epoch seconds (or
 * milliseconds/microseconds when too large to be seconds).
 *
 * @example parseSensorTime('2015-03-29T11:01:38.221126-0600', 'timestamp').iso // '2015-03-29T17:01:38.221126Z'
 */
export function parseSensorTime(v: unknown, field: string): SensorTime {
  if (typeof v === 'string') {
    const hit = cachedMinute(v);
    if (hit !== undefined) return hit;
  }
  const t = parseSensorTimeUncached(v, field);
  if (typeof v === 'string') rememberMinute(v, t);
  return t;
}

/**
 * What a minute of sensor time gives, by the text of the minute
 * (`YYYY-MM-DDTHH:MM:`) and the zone as written after six fractional
 * digits: the output's minute prefix and the minute in microseconds.
 * Seconds and microseconds are then copied from the text, since a zone
 * offset is a whole number of minutes. Records of a minute are many, and a
 * record's times (`timestamp`, `flow.start`) often fall in a few minutes
 * that alternate, which a single last-minute memo would keep missing.
 *
 * A direct-mapped table: the minute's digits make two small numbers (its
 * key; the day, hour and minute one is also its slot), so a lookup builds
 * no string and compares no substring (comparing with a slice of an earlier
 * record's text cost more than the parse it saved).
 */
interface MinuteEntry {
  /** The digits of `YYYY-MM` and of `DD HH:MM` as numbers. */
  month: number;
  minute: number;
  /** The character between date and time (`T` or a space). */
  sep: number;
  zone: string;
  /** The output's first 17 characters. */
  prefix: string;
  us: number;
  /** Whether the output is the input (UTC written as output, as Zeek does). */
  same: boolean;
}

const MINUTE_SLOTS = 1024;
const minuteTable: Array<MinuteEntry | undefined> = new Array<MinuteEntry | undefined>(MINUTE_SLOTS).fill(
  undefined,
);

/** Digits at i and i + 1 as a number; negative unless both are digits. */
function twoDigits(v: string, i: number): number {
  const a = v.charCodeAt(i) - 48;
  const b = v.charCodeAt(i + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/**
 * The digits of `YYYY-MM` as one number when the text has the shape
 * `dddd-dd-ddXdd:dd:` (X any), -1 otherwise. {@link minuteDigits} gives
 * the rest: together they are the key of the minute's entry.
 */
function monthDigits(v: string): number {
  if (v.charCodeAt(4) !== 45 || v.charCodeAt(7) !== 45 || v.charCodeAt(13) !== 58 || v.charCodeAt(16) !== 58)
    return -1;
  const c = twoDigits(v, 0);
  const y = twoDigits(v, 2);
  const m = twoDigits(v, 5);
  return c < 0 || y < 0 || m < 0 ? -1 : (c * 100 + y) * 100 + m;
}

/** The digits of `DD`, `HH` and `MM` as one number (DDHHMM), -1 unless all are digits. */
function minuteDigits(v: string): number {
  const d = twoDigits(v, 8);
  const h = twoDigits(v, 11);
  const m = twoDigits(v, 14);
  return d < 0 || h < 0 || m < 0 ? -1 : (d * 100 + h) * 100 + m;
}

/** `SS.ffffff` at 17–25 with seconds 00–59 (a leap second rolls the minute over: not from the memo). */
function secondsAndMicros(v: string): number {
  let micros = 0;
  for (let i = 20; i < 26; i++) {
    const c = v.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    micros = micros * 10 + c;
  }
  const s1 = v.charCodeAt(17) - 48;
  const s2 = v.charCodeAt(18) - 48;
  if (s1 < 0 || s1 > 5 || s2 < 0 || s2 > 9 || v.charCodeAt(19) !== 46) return -1;
  return (s1 * 10 + s2) * 1_000_000 + micros;
}

/** Whether `v` ends with `zone` from 26 on. */
function zoneIs(v: string, zone: string): boolean {
  if (v.length !== 26 + zone.length) return false;
  for (let i = 0; i < zone.length; i++) if (v.charCodeAt(26 + i) !== zone.charCodeAt(i)) return false;
  return true;
}

function cachedMinute(v: string): SensorTime | undefined {
  if (v.length < 26) return undefined;
  const minute = minuteDigits(v);
  if (minute < 0) return undefined;
  const entry = minuteTable[minute & (MINUTE_SLOTS - 1)];
  if (
    entry === undefined ||
    entry.minute !== minute ||
    entry.sep !== v.charCodeAt(10) ||
    entry.month !== monthDigits(v) ||
    !zoneIs(v, entry.zone)
  )
    return undefined;
  const rest = secondsAndMicros(v);
  if (rest < 0) return undefined;
  if (entry.same) return { iso: v, us: entry.us + rest };
  return { iso: `${entry.prefix}${v.slice(17, 26)}Z`, us: entry.us + rest };
}

function rememberMinute(v: string, t: SensorTime): void {
  if (v.length < 26) return;
  // Exactly six fractional digits: the zone, if any, starts at 26.
  const c = v.charCodeAt(26);
  if (c >= 48 && c <= 57) return;
  const month = monthDigits(v);
  const minute = minuteDigits(v);
  const rest = secondsAndMicros(v);
  // Beyond 2^53 µs (the year 2255) sums are no longer exact: parse those every time.
  if (month < 0 || minute < 0 || rest < 0 || !(t.us - rest + 60_000_000 <= Number.MAX_SAFE_INTEGER)) return;
  const zone = v.slice(26);
  const prefix = t.iso.slice(0, 17);
  minuteTable[minute & (MINUTE_SLOTS - 1)] = {
    month,
    minute,
    sep: v.charCodeAt(10),
    zone,
    prefix,
    us: t.us - rest,
    same: zone === 'Z' && prefix === v.slice(0, 17),
  };
}

function parseSensorTimeUncached(v: unknown, field: string): SensorTime {
  let us: number;
  if (typeof v === 'number') us = epochToUs(v, field);
  else if (typeof v === 'string') {
    const fast = fastIsoToUs(v);
    // Already in the output form (UTC, six digits, as Zeek writes it): the text is the answer.
    if (
      fast !== undefined &&
      v.length === 27 &&
      v.charCodeAt(26) === 90 &&
      v.charCodeAt(10) === 84 &&
      v.charCodeAt(17) !== 54
    ) {
      if (!(fast >= MIN_US && fast < MAX_US)) throw new ParseError(`${field} is out of range`, field);
      return { iso: v, us: fast };
    }
    const m = fast === undefined ? ISO.exec(v) : null;
    if (fast !== undefined) us = fast;
    else if (m) us = isoToUs(m, v, field);
    else if (/^\s*\d+(\.\d+)?\s*$/.test(v)) us = epochToUs(Number(v), field);
    else throw new ParseError(`${field} is not a valid timestamp: ${JSON.stringify(v.slice(0, 64))}`, field);
  } else if (v === undefined || v === null || v === '') throw new ParseError(`${field} is required`, field);
  else throw new ParseError(`${field} must be a timestamp, got ${typeName(v)}`, field);
  if (!(us >= MIN_US && us < MAX_US)) throw new ParseError(`${field} is out of range`, field);
  return { iso: isoMicros(us), us };
}

function digit(s: string, i: number): number {
  const c = s.charCodeAt(i) - 48;
  return c >= 0 && c <= 9 ? c : Number.NaN;
}

function num2(s: string, i: number): number {
  return digit(s, i) * 10 + digit(s, i + 1);
}

/**
 * The common shapes without a regular expression:
 * `YYYY-MM-DDTHH:MM:SS.ffffff` then `Z`, `±HHMM`, `±HH:MM` or nothing.
 * Undefined for anything else (the regular expression then decides).
 */
function fastIsoToUs(s: string): number | undefined {
  if (s.length < 26 || s.charCodeAt(4) !== 45 || s.charCodeAt(19) !== 46) return undefined;
  let micros = 0;
  for (let i = 20; i < 26; i++) micros = micros * 10 + digit(s, i);
  let i = 26;
  while (i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) i++;
  let offsetMinutes = 0;
  const rest = s.length - i;
  if (rest === 1 && (s[i] === 'Z' || s[i] === 'z')) offsetMinutes = 0;
  else if (rest === 5 || rest === 6) {
    const sign = s[i] === '+' ? 1 : s[i] === '-' ? -1 : 0;
    const mm = rest === 5 ? num2(s, i + 3) : s[i + 3] === ':' ? num2(s, i + 4) : Number.NaN;
    const hh = num2(s, i + 1);
    if (sign === 0 || !(hh <= 23) || !(mm <= 59)) return undefined;
    offsetMinutes = sign * (hh * 60 + mm);
  } else if (rest !== 0) return undefined;
  const minute = num2(s, 14);
  const second = num2(s, 17);
  if (
    !(minute <= 59 && second <= 60) ||
    s.charCodeAt(13) !== 58 ||
    s.charCodeAt(16) !== 58 ||
    Number.isNaN(micros)
  )
    return undefined;
  // Records arrive in time order: the date, hour and zone are usually those of the last record.
  const hourKey = s.slice(0, 13);
  if (hourKey === lastHourKey && offsetMinutes === lastOffset)
    return lastHourUs + (minute * 60 + second) * 1_000_000 + micros;
  const year = num2(s, 0) * 100 + num2(s, 2);
  const month = num2(s, 5);
  const day = num2(s, 8);
  const hour = num2(s, 11);
  if (
    s.charCodeAt(7) !== 45 ||
    (s.charCodeAt(10) !== 84 && s.charCodeAt(10) !== 32) ||
    s.charCodeAt(13) !== 58 ||
    s.charCodeAt(16) !== 58 ||
    !(month >= 1 && month <= 12) ||
    !(day >= 1 && day <= (month === 2 && !isLeap(year) ? 28 : DAYS[month - 1]!)) ||
    !(hour <= 23 && minute <= 59 && second <= 60) ||
    Number.isNaN(year)
  )
    return undefined;
  lastHourKey = hourKey;
  lastOffset = offsetMinutes;
  lastHourUs = Date.UTC(year, month - 1, day, hour) * 1000 - offsetMinutes * 60_000_000;
  return lastHourUs + (minute * 60 + second) * 1_000_000 + micros;
}

let lastHourKey = '';
let lastOffset = 0;
let lastHourUs = 0;

function isLeap(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

function epochToUs(n: number, field: string): number {
  if (!Number.isFinite(n)) throw new ParseError(`${field} must be a finite number`, field);
  // Seconds until the year 5138; beyond that the number is milliseconds, then microseconds.
  if (n < 1e11) return Math.round(n * 1e6);
  if (n < 1e14) return Math.round(n * 1e3);
  return Math.round(n);
}

function isoToUs(m: RegExpExecArray, v: string, field: string): number {
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  if (
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > (month === 2 && !isLeap(year) ? 28 : DAYS[month - 1]!) ||
    hour > 23 ||
    minute > 59 ||
    second > 60
  )
    throw new ParseError(`${field} is not a valid timestamp: ${JSON.stringify(v.slice(0, 64))}`, field);
  const frac = m[7];
  const micros = frac === undefined ? 0 : Number(frac.length >= 6 ? frac.slice(0, 6) : frac.padEnd(6, '0'));
  let offsetMinutes = 0;
  if (m[9] !== undefined) {
    const oh = Number(m[10]);
    const om = m[11] === undefined ? 0 : Number(m[11]);
    if (oh > 23 || om > 59) throw new ParseError(`${field} has an invalid zone offset`, field);
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  return Date.UTC(year, month - 1, day, hour, minute, second) * 1000 + micros - offsetMinutes * 60_000_000;
}

/**
 * ISO-8601 UTC with six fractional digits (the sensors' own precision).
 *
 * @example isoMicros(1521911720600725) // '2018-03-24T17:15:20.600725Z'
 */
export function isoMicros(us: number): string {
  const minute = Math.floor(us / 60_000_000);
  // A sensor's records arrive in time order: the minute's prefix is usually the last one made.
  if (minute !== lastMinute) {
    lastMinute = minute;
    lastMinutePrefix = formatMinute(minute * 60_000_000);
  }
  const rest = us - minute * 60_000_000;
  const second = Math.floor(rest / 1_000_000);
  return `${lastMinutePrefix}${pad2(second)}.${pad6(rest - second * 1_000_000)}Z`;
}

let lastMinute = Number.NaN;
let lastMinutePrefix = '';

/** `YYYY-MM-DDTHH:MM:` of an instant, in UTC. */
function formatMinute(us: number): string {
  // Formatting by hand: Date#toISOString dominated normalisation time in profiles.
  const totalSeconds = Math.floor(us / 1_000_000);
  const days = Math.floor(totalSeconds / 86_400);
  let rest = totalSeconds - days * 86_400;
  const hour = Math.floor(rest / 3600);
  rest -= hour * 3600;
  const minute = Math.floor(rest / 60);
  // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return `${year}-${pad2(month)}-${pad2(day)}T${pad2(hour)}:${pad2(minute)}:`;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

function pad6(n: number): string {
  const s = `${n}`;
  return s.length >= 6 ? s : '000000'.slice(s.length) + s;
}

/**
 * Milliseconds between two sensor times, with microsecond precision; undefined when negative.
 *
 * @example durationMs(parseSensorTime(1, 's'), parseSensorTime(1.0015, 'e')) // 1.5
 */
export function durationMs(start: SensorTime, end: SensorTime): number | undefined {
  const d = end.us - start.us;
  return d >= 0 ? d / 1000 : undefined;
}

// ---------------------------------------------------------------------------
// IP addresses and the home network.

type Parsed = { v: 4; n: number } | { v: 6; w: number[] };

function parseIpv4(s: string): number | undefined {
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || part > 255) return undefined;
      n = n * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3) return undefined;
    } else return undefined;
  }
  if (dots !== 3 || digits === 0 || part > 255) return undefined;
  return n * 256 + part;
}

/** 16-bit words of one side of `::` (no closure per address: the sources call this per record). */
function ipv6Words(part: string): number[] | undefined {
  if (part === '') return [];
  const out: number[] = [];
  const groups = part.split(':');
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    if (i === groups.length - 1 && g.includes('.')) {
      const v4 = parseIpv4(g);
      if (v4 === undefined) return undefined;
      out.push(Math.floor(v4 / 65536), v4 % 65536);
    } else {
      if (!HEX_GROUP.test(g)) return undefined;
      out.push(Number.parseInt(g, 16));
    }
  }
  return out;
}

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function parseIpv6(input: string): number[] | undefined {
  const zone = input.indexOf('%');
  const s = zone >= 0 ? input.slice(0, zone) : input;
  if (s.length < 2 || s.length > 45) return undefined;
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const head = ipv6Words(halves[0]!);
  const tail = halves.length === 2 ? ipv6Words(halves[1]!) : [];
  if (!head || !tail) return undefined;
  if (halves.length === 1) return head.length === 8 ? head : undefined;
  const fill = 8 - head.length - tail.length;
  if (fill < 1) return undefined;
  return [...head, ...new Array<number>(fill).fill(0), ...tail];
}

function parseIp(s: string): Parsed | undefined {
  const v4 = parseIpv4(s);
  if (v4 !== undefined) return { v: 4, n: v4 };
  if (!s.includes(':')) return undefined;
  const w = parseIpv6(s);
  if (!w) return undefined;
  // IPv4-mapped addresses (::ffff:a.b.c.d) belong to the IPv4 ranges.
  if (w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0 && w[4] === 0 && w[5] === 0xffff)
    return { v: 4, n: w[6]! * 65536 + w[7]! };
  return { v: 6, w };
}

/**
 * Whether a string is an IPv4 or IPv6 address.
 *
 * @example isIp('2001:db8::1') // true
 */
export function isIp(s: string): boolean {
  // IPv4 first, without the object parseIp builds: observables ask this of every address.
  if (parseIpv4(s) !== undefined) return true;
  if (!s.includes(':')) return false;
  // IPv6 parsing splits and tests each group: remember the answer (bounded), as HomeNet does.
  const known = v6Answers.get(s);
  if (known !== undefined) return known;
  const answer = parseIp(s) !== undefined;
  if (v6Answers.size >= 65_536) v6Answers.clear();
  v6Answers.set(s, answer);
  return answer;
}

const v6Answers = new Map<string, boolean>();

interface Cidr {
  v: 4 | 6;
  words: number[];
  bits: number;
}

function parseCidr(s: string): Cidr | undefined {
  const slash = s.indexOf('/');
  const addr = slash >= 0 ? s.slice(0, slash) : s;
  const ip = parseIp(addr);
  if (!ip) return undefined;
  const max = ip.v === 4 ? 32 : 128;
  const bits = slash >= 0 ? Number(s.slice(slash + 1)) : max;
  if (!Number.isInteger(bits) || bits < 0 || bits > max) return undefined;
  const words = ip.v === 4 ? [Math.floor(ip.n / 65536), ip.n % 65536] : ip.w;
  return { v: ip.v, words, bits };
}

function inCidr(words: number[], c: Cidr): boolean {
  let bits = c.bits;
  for (let i = 0; bits > 0; i++, bits -= 16) {
    const shift = bits >= 16 ? 0 : 16 - bits;
    if (words[i]! >>> shift !== c.words[i]! >>> shift) return false;
  }
  return true;
}

/** RFC 1918, RFC 4193 (IPv6 unique local) and link-local ranges: the internal networks of most sites. */
export const DEFAULT_HOME_NET = [
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '169.254.0.0/16',
  'fc00::/7',
  'fe80::/10',
] as const;

/** Config field shared by the network sources: the home network that decides `network.direction`. */
export const HomeNetConfig = z
  .array(
    z.string().refine((s) => parseCidr(s) !== undefined, 'must be an IP address or CIDR such as 10.0.0.0/8'),
  )
  .default([...DEFAULT_HOME_NET])
  .describe(
    'Networks considered internal (like Suricata HOME_NET), as CIDRs; they decide network.direction (inbound, outbound, lateral). An empty list leaves the direction unset',
  );

/**
 * The home network: which addresses are internal, and so which way a
 * connection goes.
 *
 * @example new HomeNet(['10.0.0.0/8']).direction('10.1.2.3', '8.8.8.8') // 'outbound'
 */
export class HomeNet {
  private readonly cidrs: Cidr[];
  /** IPv4 ranges as [network, mask] pairs: the common case, checked without allocating. */
  private readonly v4: Array<[number, number]> = [];
  /** Addresses repeat across a sensor's records: remember the answer (bounded). */
  private readonly cache = new Map<string, boolean | undefined>();

  constructor(cidrs: readonly string[]) {
    this.cidrs = cidrs.map((c) => {
      const parsed = parseCidr(c);
      if (!parsed) throw new ParseError(`home_net entry ${JSON.stringify(c)} is not a CIDR`, 'home_net');
      if (parsed.v === 4) {
        const mask = parsed.bits === 0 ? 0 : (0xffffffff << (32 - parsed.bits)) >>> 0;
        const net = (parsed.words[0]! * 65536 + parsed.words[1]!) & mask;
        this.v4.push([net >>> 0, mask]);
      }
      return parsed;
    });
  }

  /** Whether the address is internal; undefined when it is not an IP address. */
  contains(ip: string): boolean | undefined {
    // IPv4 (nearly every address) is parsed and checked on the spot: cheaper than hashing it for the cache.
    const n = parseIpv4(ip);
    if (n !== undefined) {
      const v4 = this.v4;
      for (let i = 0; i < v4.length; i++) if ((n & v4[i]![1]) >>> 0 === v4[i]![0]) return true;
      return false;
    }
    const cached = this.cache.get(ip);
    if (cached !== undefined || this.cache.has(ip)) return cached;
    const answer = this.lookup(ip);
    if (this.cache.size >= 65_536) this.cache.clear();
    this.cache.set(ip, answer);
    return answer;
  }

  private lookup(ip: string): boolean | undefined {
    const n = parseIpv4(ip);
    if (n !== undefined) {
      for (const [net, mask] of this.v4) if ((n & mask) >>> 0 === net) return true;
      return false;
    }
    const p = parseIp(ip);
    if (!p) return undefined;
    const words = p.v === 4 ? [Math.floor(p.n / 65536), p.n % 65536] : p.w;
    for (const c of this.cidrs) if (c.v === p.v && inCidr(words, c)) return true;
    return false;
  }

  /**
   * Direction of a connection from its originator: `outbound` (home → out),
   * `inbound`, `lateral` (home → home), `local` (to itself or loopback),
   * `unknown` (neither end at home). Undefined without a home network or an address.
   */
  direction(src: string | undefined, dst: string | undefined): Network['direction'] | undefined {
    if (this.cidrs.length === 0 || src === undefined || dst === undefined) return undefined;
    return this.directionOf(src, dst, this.contains(src), this.contains(dst));
  }

  /**
   * {@link direction} for a caller that has already asked {@link contains}
   * of both addresses (`srcHome`, `dstHome` are its answers): each address
   * is looked up once per record.
   */
  directionOf(
    src: string | undefined,
    dst: string | undefined,
    srcHome: boolean | undefined,
    dstHome: boolean | undefined,
  ): Network['direction'] | undefined {
    if (this.cidrs.length === 0 || src === undefined || dst === undefined) return undefined;
    if (src === dst || isLoopback(src) || isLoopback(dst)) return 'local';
    const s = srcHome;
    // Multicast and broadcast stay on the local network whatever the home ranges say.
    const d = isGroupAddress(dst) || dstHome;
    if (s === undefined || d === undefined) return undefined;
    if (s && d) return 'lateral';
    if (s) return 'outbound';
    if (d) return 'inbound';
    return 'unknown';
  }
}

function isGroupAddress(ip: string): boolean {
  const c0 = ip.charCodeAt(0);
  // ff00::/8 (IPv6 multicast)
  if (
    (c0 === 102 || c0 === 70) &&
    (ip.charCodeAt(1) === 102 || ip.charCodeAt(1) === 70) &&
    ip.charCodeAt(4) === 58
  )
    return true;
  if (ip === '255.255.255.255') return true;
  // 224.0.0.0/4 (IPv4 multicast)
  if (c0 !== 50 || ip.charCodeAt(3) !== 46) return false;
  const first = (c0 - 48) * 100 + (ip.charCodeAt(1) - 48) * 10 + (ip.charCodeAt(2) - 48);
  return first >= 224 && first <= 239;
}

function isLoopback(ip: string): boolean {
  // `127.` by char codes: startsWith costs more than the rest of direction().
  return (
    (ip.charCodeAt(0) === 49 &&
      ip.charCodeAt(1) === 50 &&
      ip.charCodeAt(2) === 55 &&
      ip.charCodeAt(3) === 46) ||
    ip === '::1'
  );
}

// ---------------------------------------------------------------------------
// Observables and small record helpers.

/**
 * Collects observables once each (the same domain may appear as SNI and certificate name).
 *
 * @example const o = new Observables(); o.add('domain', 'example.com', 'tls.sni'); o.list
 */
export class Observables {
  readonly list: Observable[] = [];

  add(type: Observable['type'], value: string | undefined, name: string): void {
    if (value === undefined || value === '' || value === '-') return;
    // Events carry a handful of observables: a linear scan beats hashing a key.
    for (const o of this.list) if (o.value === value && o.type === type) return;
    this.list.push({ type, value, name });
  }

  /** An IP observable, only when the value is an address. */
  ip(value: string | undefined, name: string): void {
    if (value !== undefined && isIp(value)) this.add('ip', value, name);
  }
}

/**
 * A copy of an object without some keys; undefined when nothing is left.
 *
 * @example omit({ a: 1, b: 2 }, new Set(['a'])) // { b: 2 }
 */
export function omit(
  o: Record<string, unknown>,
  keys: ReadonlySet<string>,
): Record<string, unknown> | undefined {
  let out: Record<string, unknown> | undefined;
  for (const k in o) {
    if (keys.has(k)) continue;
    const v = o[k];
    if (v === undefined) continue;
    if (!out) out = {};
    out[k] = v;
  }
  return out;
}

/**
 * FNV-1a (64-bit) of a string, in hex: a stable content key for records
 * that carry no id of their own, so ingesting them twice stores them once.
 *
 * @example contentKey({ host: '10.0.0.1' }) // 16 hex digits, the same every time
 */
export function contentKey(value: unknown): string {
  const s = JSON.stringify(value) ?? '';
  let h1 = 0x84222325;
  let h2 = 0xcbf29ce4;
  for (let i = 0; i < s.length; i++) {
    // 64-bit FNV prime 0x100000001b3 multiplication, split into 32-bit halves.
    h1 ^= s.charCodeAt(i);
    const lo = h1 * 0x1b3;
    const hi = h2 * 0x1b3 + h1 * 0x100 + Math.floor(lo / 0x100000000);
    h1 = lo >>> 0;
    h2 = hi >>> 0;
  }
  return `${h2.toString(16).padStart(8, '0')}${h1.toString(16).padStart(8, '0')}`;
}
