import { decodePri, type Priority, priorityFromNames } from './pri.ts';
import { parseStructuredData, SdError, type StructuredData } from './sd.ts';
import { parseLeadingTime, parseRfc3339, type TimeOptions } from './time.ts';

/**
 * Which header a line had: `rfc5424`; `rfc3164` (`<PRI>` and a BSD or ISO
 * timestamp); `file` (no `<PRI>`, as syslog daemons write /var/log files);
 * `unparsed` (a `<PRI>` and then no recognisable header: the whole rest is
 * the message, as RFC 3164 §4.3.3 asks a relay to treat it).
 */
export type SyslogFormat = 'rfc5424' | 'rfc3164' | 'file' | 'unparsed';

/** One syslog line taken apart; fields a header lacks are undefined. */
export interface SyslogMessage {
  format: SyslogFormat;
  priority?: Priority;
  /** ISO-8601 UTC; undefined when the header has none (RFC 5424 `-`, or `unparsed`). */
  time?: string;
  /** Whether the zone of the timestamp was assumed (BSD timestamps have none). */
  zone_assumed?: boolean;
  hostname?: string;
  /** Program: RFC 5424 APP-NAME, or the BSD tag without `[pid]` and `(module)`. */
  app_name?: string;
  /** The BSD tag as written (`su(pam_unix)[123]`). */
  tag?: string;
  /** What BSD tags put in parentheses after the program (`su(pam_unix)` → `pam_unix`). */
  tag_detail?: string;
  procid?: string;
  pid?: number;
  msgid?: string;
  structured_data?: StructuredData;
  /** Why the structured data could not be parsed (the text was kept in the message). */
  structured_data_error?: string;
  /** Solaris message id from `[ID 800047 auth.notice]`. */
  solaris_msgid?: string;
  message: string;
}

const PRI = /^<(\d{1,3})>/;
// A BSD tag: program (no space, `[` or `:`), an optional `(detail)`, an optional `[pid]`, then `:`.
const TAG = /^([^\s[\]:()]{1,128})(?:\(([^\s()]{0,64})\))?(?:\[([^\]\s]{0,32})\])?:(?: |$)/;
const SOLARIS_ID = /^\[ID (\d+) ([a-z0-9]+)\.([a-z]+)\] ?/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

function nil(v: string | undefined): string | undefined {
  return v === undefined || v === '-' || v === '' ? undefined : v;
}

function pidOf(procid: string | undefined): number | undefined {
  if (procid === undefined || !/^\d{1,10}$/.test(procid)) return undefined;
  const n = Number(procid);
  return n <= 2_147_483_647 ? n : undefined;
}

/** Split `n` space-separated fields off the front of `s`; undefined when there are fewer. */
function fields(s: string, n: number): { parts: string[]; rest: string } | undefined {
  const parts: string[] = [];
  let i = 0;
  for (let k = 0; k < n; k++) {
    const sp = s.indexOf(' ', i);
    if (sp < 0) return undefined;
    parts.push(s.slice(i, sp));
    i = sp + 1;
  }
  return { parts, rest: s.slice(i) };
}

function stripBom(s: string): string {
  return s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
}

/** Parse an RFC 5424 line after its `<PRI>`; undefined when it is not one. */
function parse5424(afterPri: string, priority: Priority): SyslogMessage | undefined {
  const v = /^(\d{1,2}) /.exec(afterPri);
  if (!v || v[1] === '0') return undefined;
  const f = fields(afterPri.slice(v[0].length), 5);
  if (!f) return undefined;
  const [ts, host, app, procid, msgid] = f.parts as [string, string, string, string, string];
  let time: string | undefined;
  if (ts !== '-') {
    const ms = parseRfc3339(ts);
    if (ms === undefined) return undefined;
    time = new Date(ms).toISOString();
  }
  const out: SyslogMessage = { format: 'rfc5424', priority, message: '' };
  if (time) out.time = time;
  const hostname = nil(host);
  if (hostname) out.hostname = hostname;
  const appName = nil(app);
  if (appName) out.app_name = appName;
  const pid = nil(procid);
  if (pid) {
    out.procid = pid;
    const n = pidOf(pid);
    if (n !== undefined) out.pid = n;
  }
  const mid = nil(msgid);
  if (mid) out.msgid = mid;
  let rest = f.rest;
  try {
    const sd = parseStructuredData(rest);
    if (Object.keys(sd.data).length > 0) out.structured_data = sd.data;
    rest = sd.rest.startsWith(' ') ? sd.rest.slice(1) : sd.rest;
  } catch (err) {
    // A sender's malformed structured data should not lose the message: keep the text, say why.
    out.structured_data_error = err instanceof SdError ? err.message : String(err);
  }
  out.message = stripBom(rest);
  return out;
}

/** Take the hostname and tag off the text that follows a BSD timestamp. */
function parseHostAndTag(rest: string, out: SyslogMessage): void {
  let text = rest;
  let tag = TAG.exec(text);
  if (!tag) {
    const sp = text.indexOf(' ');
    const first = sp < 0 ? text : text.slice(0, sp);
    if (first !== '' && first.length <= 255) {
      out.hostname = first;
      text = sp < 0 ? '' : text.slice(sp + 1).replace(/^ +/, '');
      tag = TAG.exec(text);
    }
  }
  if (tag) {
    out.app_name = tag[1]!;
    out.tag = tag[0].replace(/: ?$/, '');
    if (tag[2]) out.tag_detail = tag[2];
    if (tag[3]) {
      out.procid = tag[3];
      const n = pidOf(tag[3]);
      if (n !== undefined) out.pid = n;
    }
    text = text.slice(tag[0].length);
  }
  const sol = SOLARIS_ID.exec(text);
  if (sol) {
    out.solaris_msgid = sol[1]!;
    out.priority ??= priorityFromNames(sol[2]!, sol[3]!);
    if (!out.priority) delete out.priority;
    text = text.slice(sol[0].length);
  }
  out.message = text;
}

/**
 * Take a syslog line apart: RFC 5424, RFC 3164 (BSD) with or without
 * `<PRI>`, and the timestamp variants daemons write (see `time.ts`). Returns
 * undefined when the line has neither a `<PRI>` nor a timestamp, so it is
 * not syslog.
 *
 * @example
 * parseSyslogLine('<38>Feb  3 04:05:06 web1 sshd[812]: Accepted publickey for alice from 198.51.100.7 port 50022 ssh2', opts)
 * // { format: 'rfc3164', hostname: 'web1', app_name: 'sshd', pid: 812, message: 'Accepted publickey …', … }
 */
export function parseSyslogLine(line: string, opts: TimeOptions): SyslogMessage | undefined {
  const text = stripBom(line);
  const pri = PRI.exec(text);
  let priority: Priority | undefined;
  let rest = text;
  if (pri) {
    const value = Number(pri[1]);
    if (value <= 191) {
      priority = decodePri(value);
      rest = text.slice(pri[0].length);
      const r5424 = parse5424(rest, priority);
      if (r5424) return r5424;
    }
  }
  const time = parseLeadingTime(rest.replace(/^ +/, ''), opts);
  if (!time) {
    if (!priority) return undefined;
    return { format: 'unparsed', priority, message: rest };
  }
  const out: SyslogMessage = { format: priority ? 'rfc3164' : 'file', time: time.iso, message: '' };
  if (priority) out.priority = priority;
  if (!time.has_zone) out.zone_assumed = true;
  parseHostAndTag(time.rest, out);
  return out;
}

/** Whether a hostname from a header is in fact an IPv4 address (BSD relays often send one). */
export function isIpv4(s: string): boolean {
  return IPV4.test(s);
}
