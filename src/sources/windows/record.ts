import { asObj, isObj, type Obj, ParseError, toIsoTime, typeName } from '../fields.ts';
import { isSysmon } from './sysmon.ts';
import { text } from './values.ts';

/**
 * One Windows event read out of whichever export carried it, with the
 * System part (id, channel, computer, record id, time) separated from the
 * event data, which keeps its original field names.
 */
export interface WinRecord {
  /** winlogbeat (`winlog.*`), otrf (flat NXLog/Mordor), or evtx (`{"Event": {"System", "EventData"}}`). */
  shape: 'winlogbeat' | 'otrf' | 'evtx';
  eventId: number;
  channel?: string;
  provider?: string;
  computer?: string;
  /** `EventRecordID`/`RecordNumber`/`record_id`: the event's own id in its channel. */
  recordId?: string;
  /** ISO-8601 UTC. */
  time: string;
  /** Windows level: 1 Critical, 2 Error, 3 Warning, 4 Information, 5 Verbose (0: LogAlways). */
  level?: number;
  /** From the audit keywords: whether an audit event records a success or a failure. */
  audit?: 'success' | 'failure';
  /** The rendered message, when the export kept it. */
  message?: string;
  /** SID of the account the event was logged under (System/Security/@UserID). */
  userSid?: string;
  /** Name and domain of that account, where the export resolved them (winlogbeat). */
  userName?: string;
  userDomain?: string;
  /** EventData and UserData fields under their original names. */
  data: Obj;
}

const CANONICAL_CHANNELS = [
  'Security',
  'System',
  'Application',
  'Setup',
  'Windows PowerShell',
  'Microsoft-Windows-Sysmon/Operational',
  'Microsoft-Windows-PowerShell/Operational',
  'Microsoft-Windows-TaskScheduler/Operational',
  'Microsoft-Windows-WMI-Activity/Operational',
  'Microsoft-Windows-Windows Defender/Operational',
];
const CHANNEL_BY_LOWER = new Map(CANONICAL_CHANNELS.map((c) => [c.toLowerCase(), c]));
const CHANNEL_EXACT: ReadonlyMap<string, string> = new Map(CANONICAL_CHANNELS.map((c) => [c, c]));

/**
 * Channel names are case-insensitive in Windows and some exports lower-case
 * them (`security`); the well-known ones are given their canonical spelling so
 * rules can match `Security` exactly.
 */
export function canonicalChannel(channel: string | undefined): string | undefined {
  if (channel === undefined) return undefined;
  // Most events already carry the canonical spelling: one lookup, no lowercase copy. The constant
  // comes back (same text): later lookups keyed by the channel find its hash already computed.
  const exact = CHANNEL_EXACT.get(channel);
  if (exact !== undefined) return exact;
  return CHANNEL_BY_LOWER.get(channel.toLowerCase()) ?? channel;
}

function eventIdOf(v: unknown, field: string): number {
  // The common case first: a JSON number in range (flat exports write EventID so).
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 65535) return v;
  const raw = isObj(v) ? (v['#text'] ?? v.value ?? v['#value']) : v;
  const n =
    typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    if (raw === undefined || raw === null) throw new ParseError(`${field} is required`, field);
    throw new ParseError(
      `${field} must be an event id 0–65535, got ${JSON.stringify(raw)?.slice(0, 40) ?? typeName(raw)}`,
      field,
    );
  }
  return n;
}

const LEVEL_BY_NAME: ReadonlyMap<string, number> = new Map([
  ['critical', 1],
  ['error', 2],
  ['warning', 3],
  ['information', 4],
  ['informational', 4],
  ['info', 4],
  ['verbose', 5],
]);

function levelOf(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string') {
    // One digit, as NXLog and evtx write it ("4"), without a regular expression.
    if (v.length === 1) {
      const c = v.charCodeAt(0);
      if (c >= 48 && c <= 57) return c - 48;
    }
    const t = v.trim();
    if (/^\d$/.test(t)) return Number(v);
    return LEVEL_BY_NAME.get(t.toLowerCase());
  }
  return undefined;
}

// Audit keyword bits (winmeta.xml): 0x0020… Audit Success, 0x0010… Audit Failure.
const AUDIT_SUCCESS_BIT = 0x20000000000000n;
const AUDIT_FAILURE_BIT = 0x10000000000000n;

/**
 * Outcomes of keyword values seen so far: a dataset uses a handful of
 * keyword values, and reading one (a BigInt per event) cost more than the
 * rest of the record. Bounded: past the cap values are computed each time.
 */
const AUDIT_CACHE = new Map<string | number, 'success' | 'failure' | undefined>();
const AUDIT_CACHE_MAX = 1024;

/** Audit outcome from keywords in any of their spellings: hex, signed 64-bit number, names. */
export function auditOf(keywords: unknown): 'success' | 'failure' | undefined {
  if (typeof keywords === 'number' || (typeof keywords === 'string' && keywords.length <= 40)) {
    const hit = AUDIT_CACHE.get(keywords);
    if (hit !== undefined || AUDIT_CACHE.has(keywords)) return hit;
    const outcome = auditOfUncached(keywords);
    if (AUDIT_CACHE.size < AUDIT_CACHE_MAX) AUDIT_CACHE.set(keywords, outcome);
    return outcome;
  }
  return auditOfUncached(keywords);
}

function auditOfUncached(keywords: unknown): 'success' | 'failure' | undefined {
  if (Array.isArray(keywords)) {
    const names = keywords.map((k) => String(k).toLowerCase());
    if (names.includes('audit failure')) return 'failure';
    if (names.includes('audit success')) return 'success';
    return undefined;
  }
  let bits: bigint | undefined;
  try {
    if (typeof keywords === 'string' && /^0x[0-9a-f]{1,16}$/i.test(keywords.trim()))
      bits = BigInt(keywords.trim());
    // NXLog writes keywords as a signed 64-bit decimal, which JSON parsing already rounded; the audit bits survive.
    else if (typeof keywords === 'number' && Number.isFinite(keywords))
      bits = BigInt.asUintN(64, BigInt(Math.trunc(keywords)));
  } catch {
    bits = undefined;
  }
  if (bits === undefined) return undefined;
  if (bits & AUDIT_FAILURE_BIT) return 'failure';
  if (bits & AUDIT_SUCCESS_BIT) return 'success';
  return undefined;
}

function firstTime(candidates: Array<[unknown, string]>, fallbackField: string): string {
  for (const [v, field] of candidates) {
    if (v === undefined || v === null || v === '') continue;
    return timeOf(v, field);
  }
  throw new ParseError(`${fallbackField} is required`, fallbackField);
}

/** Whether a time value is present (the rule {@link firstTime} applies to each candidate). */
function given(v: unknown): boolean {
  return v !== undefined && v !== null && v !== '';
}

/**
 * {@link toIsoTime}, with the two spellings the Windows exports use per
 * event read by hand: `2020-06-10T02:50:54.631Z` (already the result) and
 * Sysmon's `2020-06-10 02:50:54.631` (UTC without a zone). Parsing them
 * through `Date` was a large share of normalising a Windows event. Only
 * valid dates in 1970–9999 take this path; anything else goes through
 * toIsoTime, so results and errors are the same.
 */
function timeOf(v: unknown, field: string): string {
  if (typeof v === 'string') {
    if (v.length === 24 && v.charCodeAt(10) === 84 && v.charCodeAt(23) === 90 && isValidMsTime(v)) return v;
    if (v.length === 23 && v.charCodeAt(10) === 32 && isValidMsTime(v))
      return `${v.slice(0, 10)}T${v.slice(11)}Z`;
  }
  return toIsoTime(v, field);
}

const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function digits(v: string, at: number, n: number): number {
  let x = 0;
  for (let i = at; i < at + n; i++) {
    const c = v.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    x = x * 10 + c;
  }
  return x;
}

/** `YYYY-MM-DD?HH:MM:SS.mmm` (any character at 10) naming a real instant in 1970–9999. */
function isValidMsTime(v: string): boolean {
  if (
    v.charCodeAt(4) !== 45 ||
    v.charCodeAt(7) !== 45 ||
    v.charCodeAt(13) !== 58 ||
    v.charCodeAt(16) !== 58 ||
    v.charCodeAt(19) !== 46
  )
    return false;
  const year = digits(v, 0, 4);
  const month = digits(v, 5, 2);
  const day = digits(v, 8, 2);
  if (year < 1970 || month < 1 || month > 12 || day < 1) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month]!)) return false;
  const hour = digits(v, 11, 2);
  const minute = digits(v, 14, 2);
  const second = digits(v, 17, 2);
  return (
    hour >= 0 &&
    hour < 24 &&
    minute >= 0 &&
    minute < 60 &&
    second >= 0 &&
    second < 60 &&
    digits(v, 20, 3) >= 0
  );
}

function attr(o: unknown, name: string): unknown {
  if (!isObj(o)) return typeof o === 'string' || typeof o === 'number' ? o : undefined;
  const attrs = o['#attributes'];
  if (isObj(attrs) && attrs[name] !== undefined) return attrs[name];
  if (o[`@${name}`] !== undefined) return o[`@${name}`];
  return o[name];
}

// ---------------------------------------------------------------- winlogbeat

function fromWinlogbeat(r: Obj, winlog: Obj): WinRecord {
  const eventId = eventIdOf(
    winlog.event_id ?? (isObj(r.event) ? r.event.code : undefined),
    'winlog.event_id',
  );
  const data: Obj = {};
  for (const key of ['event_data', 'user_data'] as const) {
    const part = winlog[key];
    if (part === undefined || part === null) continue;
    if (!isObj(part))
      throw new ParseError(`winlog.${key} must be an object, got ${typeName(part)}`, `winlog.${key}`);
    for (const [k, v] of Object.entries(part)) if (k !== 'xml_name') data[k] = v;
  }
  const event = isObj(r.event) ? r.event : {};
  const log = isObj(r.log) ? r.log : {};
  const rec: WinRecord = {
    shape: 'winlogbeat',
    eventId,
    time: firstTime(
      [
        [r['@timestamp'], '@timestamp'],
        [winlog.time_created, 'winlog.time_created'],
        [event.created, 'event.created'],
      ],
      '@timestamp',
    ),
    data,
  };
  const channel = canonicalChannel(text(winlog.channel));
  if (channel) rec.channel = channel;
  const provider = text(winlog.provider_name);
  if (provider) rec.provider = provider;
  const host = isObj(r.host) ? text(r.host.name) : undefined;
  const computer = text(winlog.computer_name) ?? host;
  if (computer) rec.computer = computer;
  const recordId = text(winlog.record_id);
  if (recordId) rec.recordId = recordId;
  const level = levelOf(log.level);
  if (level !== undefined) rec.level = level;
  const outcome = text(event.outcome);
  rec.audit =
    auditOf(winlog.keywords) ?? (outcome === 'success' || outcome === 'failure' ? outcome : undefined);
  if (rec.audit === undefined) delete rec.audit;
  const message = text(r.message);
  if (message) rec.message = message;
  if (isObj(winlog.user)) {
    const sid = text(winlog.user.identifier);
    if (sid) rec.userSid = sid;
    const name = text(winlog.user.name);
    if (name) rec.userName = name;
    const domain = text(winlog.user.domain);
    if (domain) rec.userDomain = domain;
  }
  return rec;
}

/**
 * winlogbeat 6 (before ECS) wrote the same fields at the top level under
 * other names: `event_id`, `log_name`, `source_name`, `computer_name`,
 * `record_number`, `event_data`/`user_data`, `user`, `keywords`, `level`
 * (a name). OTRF's 2019 datasets are in this shape.
 */
export function isWinlogbeat6(r: Obj): boolean {
  return 'event_id' in r && ('log_name' in r || 'event_data' in r || 'source_name' in r);
}

/** winlogbeat 7 `winlog.*` name → the winlogbeat 6 top-level name it had. */
const WINLOGBEAT6_NAMES: ReadonlyArray<readonly [string, string]> = [
  ['event_id', 'event_id'],
  ['channel', 'log_name'],
  ['provider_name', 'source_name'],
  ['computer_name', 'computer_name'],
  ['record_id', 'record_number'],
  ['event_data', 'event_data'],
  ['user_data', 'user_data'],
  ['keywords', 'keywords'],
  ['user', 'user'],
];
const WINLOGBEAT6_NAME = new Map(WINLOGBEAT6_NAMES.map(([now, then]) => [`winlog.${now}`, then]));

function fromWinlogbeat6(r: Obj): WinRecord {
  // Read through the winlogbeat 7 reader with the old names moved where it reads them; an error names
  // the field as this export spells it.
  const winlog: Obj = {};
  for (const [now, then] of WINLOGBEAT6_NAMES) winlog[now] = r[then];
  const wrapped: Obj = {
    '@timestamp': r['@timestamp'],
    host: r.host,
    message: r.message,
    log: { level: r.level },
  };
  try {
    return fromWinlogbeat(wrapped, winlog);
  } catch (err) {
    if (!(err instanceof ParseError) || err.field === undefined) throw err;
    const old = WINLOGBEAT6_NAME.get(err.field);
    if (old === undefined) throw err;
    throw new ParseError(err.message.replace(err.field, old), old);
  }
}

// ------------------------------------------------------------ OTRF / NXLog flat

/**
 * Keys NXLog and Logstash add around the event in OTRF/Mordor exports; every
 * other key is event data. `EventType` is NXLog's too unless the dataset
 * renamed NXLog's to `EventTypeOrignal` (sic), which it does when the event
 * has an `EventType` of its own (Sysmon registry events).
 */
export const FLAT_ENVELOPE_KEYS: ReadonlySet<string> = new Set([
  '@timestamp',
  '@version',
  'tags',
  'host',
  'port',
  'EventReceivedTime',
  'SourceModuleName',
  'SourceModuleType',
  'EventTime',
  'TimeCreated',
  'Hostname',
  'Channel',
  'EventID',
  'RecordNumber',
  'EventRecordID',
  'SourceName',
  'ProviderGuid',
  'Message',
  'Keywords',
  'Severity',
  'SeverityValue',
  'Level',
  'Task',
  'Opcode',
  'OpcodeValue',
  'Version',
  'ExecutionProcessID',
  'ThreadID',
  'Category',
  'ActivityID',
  'RelatedActivityID',
  'EventTypeOrignal',
]);

const NXLOG_EVENT_TYPES = new Set([
  'AUDIT_SUCCESS',
  'AUDIT_FAILURE',
  'INFO',
  'WARNING',
  'ERROR',
  'CRITICAL',
  'VERBOSE',
]);

/** The time of a flat record: the first of its time fields present (read in place, no list built). */
function flatTime(r: Obj, sysmon: boolean): string {
  if (given(r.TimeCreated)) return timeOf(r.TimeCreated, 'TimeCreated');
  // Sysmon's UtcTime is the event's own time; @timestamp is when the collector received it.
  if (sysmon && given(r.UtcTime)) return timeOf(r.UtcTime, 'UtcTime');
  if (given(r['@timestamp'])) return timeOf(r['@timestamp'], '@timestamp');
  if (given(r.EventTime)) return timeOf(r.EventTime, 'EventTime');
  throw new ParseError('@timestamp is required', '@timestamp');
}

function fromFlat(r: Obj): WinRecord {
  const eventId = eventIdOf(r.EventID, 'EventID');
  const channel = canonicalChannel(text(r.Channel));
  const provider = text(r.SourceName);
  const sysmon = isSysmon(channel, provider);
  const time = flatTime(r, sysmon);
  const nxlogType = text(r.EventTypeOrignal) ?? text(r.EventType);
  const hasOriginalType = r.EventTypeOrignal !== undefined;
  // Keys read in a for…in (not Object.keys or Object.entries, which build an array per record).
  const data: Obj = {};
  for (const k in r) {
    if (FLAT_ENVELOPE_KEYS.has(k)) continue;
    const v = r[k];
    if (k === 'EventType' && !hasOriginalType && NXLOG_EVENT_TYPES.has(String(v))) continue;
    data[k] = v;
  }
  const rec: WinRecord = { shape: 'otrf', eventId, time, data };
  if (channel) rec.channel = channel;
  if (provider) rec.provider = provider;
  const computer = text(r.Hostname) ?? text(r.Computer);
  if (computer) rec.computer = computer;
  const recordId = text(r.EventRecordID) ?? text(r.RecordNumber);
  if (recordId) rec.recordId = recordId;
  const level = levelOf(r.Level) ?? levelOf(r.Severity);
  if (level !== undefined) rec.level = level;
  const audit =
    nxlogType === 'AUDIT_SUCCESS'
      ? 'success'
      : nxlogType === 'AUDIT_FAILURE'
        ? 'failure'
        : auditOf(r.Keywords);
  if (audit) rec.audit = audit;
  const message = text(r.Message);
  if (message) rec.message = message;
  return rec;
}

// ------------------------------------------------------------ XML as JSON (evtx)

function dataFields(node: unknown, field: string, into: Obj): void {
  if (node === undefined || node === null || node === '') return;
  if (!isObj(node)) throw new ParseError(`${field} must be an object, got ${typeName(node)}`, field);
  const data = node.Data;
  // xmltodict and similar converters: Data is a list (or one) of {Name, #text}; unnamed Data become param1, param2, …
  if (
    data !== undefined &&
    Object.keys(node).every((k) => k === 'Data' || k === '#attributes' || k.startsWith('@'))
  ) {
    const items = Array.isArray(data) ? data : [data];
    items.forEach((item, i) => {
      const name = isObj(item) ? text(attr(item, 'Name')) : undefined;
      const value = isObj(item) ? (item['#text'] ?? item.Value ?? item.value ?? null) : item;
      into[name ?? `param${i + 1}`] = value;
    });
    return;
  }
  for (const [k, v] of Object.entries(node)) {
    if (k === '#attributes' || k.startsWith('@xmlns')) continue;
    into[k] = v;
  }
}

function fromEvtx(ev: Obj): WinRecord {
  const system = ev.System;
  if (!isObj(system))
    throw new ParseError(`Event.System must be an object, got ${typeName(system)}`, 'Event.System');
  const eventId = eventIdOf(system.EventID, 'Event.System.EventID');
  const data: Obj = {};
  dataFields(ev.EventData, 'Event.EventData', data);
  // UserData holds one element named after the event (LogFileCleared, …) whose children are the fields.
  const userData = ev.UserData;
  if (isObj(userData)) {
    for (const [k, v] of Object.entries(userData)) {
      if (k === '#attributes') continue;
      if (isObj(v)) dataFields(v, `Event.UserData.${k}`, data);
      else data[k] = v;
    }
  }
  const rec: WinRecord = {
    shape: 'evtx',
    eventId,
    time: firstTime(
      [[attr(system.TimeCreated, 'SystemTime'), 'Event.System.TimeCreated.SystemTime']],
      'Event.System.TimeCreated.SystemTime',
    ),
    data,
  };
  const channel = canonicalChannel(text(system.Channel));
  if (channel) rec.channel = channel;
  const provider = text(attr(system.Provider, 'Name'));
  if (provider) rec.provider = provider;
  const computer = text(system.Computer);
  if (computer) rec.computer = computer;
  const recordId = text(system.EventRecordID);
  if (recordId) rec.recordId = recordId;
  const level = levelOf(isObj(system.Level) ? system.Level['#text'] : system.Level);
  if (level !== undefined) rec.level = level;
  const audit = auditOf(isObj(system.Keywords) ? system.Keywords['#text'] : system.Keywords);
  if (audit) rec.audit = audit;
  const sid = text(attr(system.Security, 'UserID'));
  if (sid) rec.userSid = sid;
  const rendered = isObj(ev.RenderingInfo) ? text(ev.RenderingInfo.Message) : undefined;
  if (rendered) rec.message = rendered;
  return rec;
}

/**
 * Read a Windows event in any of the three exports: winlogbeat
 * (`winlog.event_id`, `winlog.event_data.*`), OTRF/Mordor flat NXLog
 * records (`EventID`, `Channel`, data fields at top level), and XML rendered
 * as JSON (`{"Event": {"System": {…}, "EventData": {…}}}`). Throws a
 * ParseError naming the field for anything else.
 *
 * @example
 * readWinRecord({ EventID: 4688, Channel: 'security', Hostname: 'ws1', RecordNumber: 9, '@timestamp': '2026-01-01T00:00:00Z', NewProcessName: 'C:\\x.exe' })
 * // { shape: 'otrf', eventId: 4688, channel: 'Security', computer: 'ws1', recordId: '9', data: { NewProcessName: 'C:\\x.exe' }, … }
 */
export function readWinRecord(record: unknown): WinRecord {
  const r = asObj(record);
  if (isObj(r.winlog)) return fromWinlogbeat(r, r.winlog);
  if (isWinlogbeat6(r)) return fromWinlogbeat6(r);
  if (isObj(r.Event)) return fromEvtx(r.Event);
  if (isObj(r.System)) return fromEvtx(r);
  if ('EventID' in r) return fromFlat(r);
  throw new ParseError(
    'Not a Windows event: expected winlog.event_id (winlogbeat), EventID (flat export) or Event.System (XML as JSON)',
    'EventID',
  );
}
