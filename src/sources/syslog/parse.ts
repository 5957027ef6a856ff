import type { OcsfSeverityId } from '../../schema/common.ts';
import { type EventDraft, type Observable, ocsfClass } from '../../schema/event.ts';
import { isObj, optPort, optStr, ParseError, toIsoTime, typeName } from '../fields.ts';
import { type AuthCategory, type AuthInfo, parseAuthMessage, serviceOf } from './auth.ts';
import { isIpv4, parseSyslogLine, type SyslogMessage } from './header.ts';
import { OCSF_SEVERITY_OF_SYSLOG } from './pri.ts';

/**
 * What a receiver hands the source instead of a bare line: the line and
 * where it came from. Files and HTTP bodies give bare strings.
 */
export interface SyslogEnvelope {
  message: string;
  /** Address and port of the peer that sent the datagram or connection. */
  peer_ip?: string;
  peer_port?: number;
  transport?: 'udp' | 'tcp';
  /** When the receiver got it (ISO-8601); the time of lines whose header has none. */
  received_at?: string;
  /** Set when the receiver cut an oversize message: its length before, in bytes. */
  truncated_from_bytes?: number;
}

export interface SyslogOptions {
  timezone: string;
  year?: number;
  /** The clock, for year inference and for lines without a timestamp. */
  now: () => Date;
}

const CLASS_OF: Record<AuthCategory, number> = {
  authentication: 3002,
  account: 3001,
  group: 3006,
  ssh_connection: 4007,
};

const RECEIVED_ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function envelopeOf(record: unknown): SyslogEnvelope {
  if (typeof record === 'string') return { message: record };
  if (!isObj(record)) {
    throw new ParseError(`A syslog record must be a text line, got ${typeName(record)}`, 'record');
  }
  const message = record.message;
  if (typeof message !== 'string')
    throw new ParseError(`message must be a string, got ${typeName(message)}`, 'message');
  const env: SyslogEnvelope = { message };
  const peer = optStr(record, 'peer_ip');
  if (peer) env.peer_ip = peer;
  const port = optPort(record, 'peer_port');
  if (port !== undefined) env.peer_port = port;
  const transport = record.transport;
  if (transport === 'udp' || transport === 'tcp') env.transport = transport;
  const received = record.received_at;
  // Receivers write toISOString() output; anything else is checked and normalised.
  if (received !== undefined)
    env.received_at =
      typeof received === 'string' && RECEIVED_ISO.test(received)
        ? received
        : toIsoTime(received, 'received_at');
  const truncated = record.truncated_from_bytes;
  if (typeof truncated === 'number' && Number.isFinite(truncated)) env.truncated_from_bytes = truncated;
  return env;
}

function severityOf(msg: SyslogMessage, auth: AuthInfo | undefined): OcsfSeverityId {
  const base = msg.priority ? OCSF_SEVERITY_OF_SYSLOG[msg.priority.severity]! : 1;
  // A refused login or sudo is worth at least Low, whatever level the daemon logged it at.
  if (auth?.status === 'failure' && base < 2) return 2;
  return base;
}

function syslogDetails(msg: SyslogMessage, env: SyslogEnvelope): Record<string, unknown> {
  const d: Record<string, unknown> = { format: msg.format };
  if (msg.priority) {
    d.pri = msg.priority.pri;
    d.facility = msg.priority.facility;
    d.facility_name = msg.priority.facility_name;
    d.severity = msg.priority.severity;
    d.severity_name = msg.priority.severity_name;
  }
  if (msg.app_name !== undefined) d.app_name = msg.app_name;
  if (msg.tag !== undefined) d.tag = msg.tag;
  if (msg.tag_detail !== undefined) d.tag_detail = msg.tag_detail;
  if (msg.procid !== undefined) d.procid = msg.procid;
  if (msg.msgid !== undefined) d.msgid = msg.msgid;
  if (msg.structured_data) d.structured_data = msg.structured_data;
  if (msg.structured_data_error) d.structured_data_error = msg.structured_data_error;
  if (msg.solaris_msgid) d.solaris_msgid = msg.solaris_msgid;
  if (msg.zone_assumed) d.zone_assumed = true;
  if (!msg.time) d.time_from = env.received_at ? 'received_at' : 'clock';
  if (env.peer_ip) d.peer_ip = env.peer_ip;
  if (env.peer_port !== undefined) d.peer_port = env.peer_port;
  if (env.transport) d.transport = env.transport;
  if (env.truncated_from_bytes !== undefined) d.truncated_from_bytes = env.truncated_from_bytes;
  return d;
}

/**
 * Normalise one syslog line (or a receiver's {@link SyslogEnvelope}) into an
 * event: Authentication (3002), Account Change (3001), Group Management
 * (3006) or SSH Activity (4007) when the message is a known auth message,
 * otherwise a Base Event (0) carrying the message.
 *
 * @example
 * normaliseSyslog('<38>Feb  3 04:05:06 web1 sshd[812]: Failed password for root from 203.0.113.9 port 52113 ssh2', opts)
 * // [{ class_uid: 3002, status: 'failure', actor: { user: { name: 'root' } }, src_endpoint: { ip: '203.0.113.9', port: 52113 }, … }]
 */
export function normaliseSyslog(record: unknown, opts: SyslogOptions): EventDraft[] {
  const env = envelopeOf(record);
  const line = env.message.replace(/[\r\n\0]+$/, '');
  const now = opts.now();
  const msg = parseSyslogLine(line, { timezone: opts.timezone, year: opts.year, now });
  if (!msg) {
    throw new ParseError(
      `Not a syslog line: it starts with neither <PRI> nor a timestamp: ${JSON.stringify(line.slice(0, 40))}`,
      'timestamp',
    );
  }
  const auth =
    msg.app_name !== undefined || msg.message ? parseAuthMessage(msg.app_name, msg.message) : undefined;
  const time = msg.time ?? env.received_at ?? now.toISOString();
  const observables: Observable[] = [];
  const draft: EventDraft = {
    ...ocsfClass(auth ? CLASS_OF[auth.category] : 0),
    time,
    severity_id: severityOf(msg, auth),
    status: auth?.status ?? 'unknown',
    message: msg.message,
    metadata: { product: 'syslog' },
    raw: record,
  };
  if (msg.app_name !== undefined) {
    draft.metadata!.log_name = serviceOf(msg.app_name);
    draft.process = { name: msg.app_name };
    if (msg.pid !== undefined) draft.process.pid = msg.pid;
  }
  if (msg.msgid !== undefined) draft.metadata!.event_code = msg.msgid;
  if (auth) draft.activity_name = auth.activity;
  else if (msg.msgid !== undefined) draft.activity_name = msg.msgid;
  if (auth && typeof auth.fields.reason === 'string') draft.status_detail = auth.fields.reason;

  const device: NonNullable<EventDraft['device']> = {};
  if (msg.hostname) {
    if (isIpv4(msg.hostname)) device.ip = msg.hostname;
    else device.hostname = msg.hostname;
  } else if (env.peer_ip) device.ip = env.peer_ip;
  if (Object.keys(device).length) draft.device = device;
  if (device.hostname) observables.push({ type: 'host', value: device.hostname, name: 'device.hostname' });

  const unmapped: Record<string, unknown> = { syslog: syslogDetails(msg, env) };
  if (auth) {
    const a: Record<string, unknown> = { kind: auth.kind, ...auth.fields };
    if (auth.target_user !== undefined) a.target_user = auth.target_user;
    if (auth.group !== undefined) a.group = auth.group;
    unmapped.auth = a;
    if (auth.user) {
      draft.actor = { user: { name: auth.user } };
      observables.push({ type: 'user', value: auth.user, name: 'actor.user.name' });
    }
    if (auth.target_user)
      observables.push({ type: 'user', value: auth.target_user, name: 'unmapped.auth.target_user' });
    const src: NonNullable<EventDraft['src_endpoint']> = {};
    if (auth.src_ip) {
      src.ip = auth.src_ip;
      observables.push({ type: 'ip', value: auth.src_ip, name: 'src_endpoint.ip' });
    }
    if (auth.src_port !== undefined) src.port = auth.src_port;
    if (auth.src_host) {
      src.hostname = auth.src_host;
      observables.push({ type: 'host', value: auth.src_host, name: 'src_endpoint.hostname' });
    }
    if (Object.keys(src).length) draft.src_endpoint = src;
    if (auth.category === 'ssh_connection' || auth.kind.startsWith('ssh_'))
      draft.network = { protocol: 'tcp', app_protocol: 'ssh' };
  }
  draft.unmapped = unmapped;
  draft.observables = observables;
  return [draft];
}

// `<PRI>` then a version digit (RFC 5424) or a BSD/ISO timestamp.
const SNIFF_PRI = /^<\d{1,3}>(?:\d |[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\d)/;
const SNIFF_BSD = /^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ \S+/;
const SNIFF_ISO = /^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d\S* +\S+ [^\s:[]+(?:\[\d+\])?: /;

/**
 * How likely a record is a syslog line: text starting with `<PRI>` and a
 * header, a BSD timestamp, or an ISO timestamp followed by host and tag.
 * JSON values are never syslog (receivers' envelopes are not sniffed).
 *
 * @example sniffSyslog('<13>Feb  3 04:05:06 web1 app: x') // 0.9
 */
export function sniffSyslog(record: unknown): number {
  if (typeof record !== 'string') return 0;
  if (SNIFF_PRI.test(record)) return 0.9;
  if (SNIFF_BSD.test(record)) return 0.8;
  if (SNIFF_ISO.test(record)) return 0.6;
  if (/^<\d{1,3}>/.test(record)) return 0.4;
  return 0;
}
