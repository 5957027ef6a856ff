/**
 * One mapper per Zeek log with a specific mapping. Each fills the parts of
 * the event its log knows about and names the fields it represents fully
 * (`consumed`); every other field of the record goes to `unmapped`.
 */
import { ocsfFromSeverity } from '../../schema/common.ts';
import type { EventDraft, Network, User } from '../../schema/event.ts';
import { boolOf, intOf, numOf, type Obj, optStr, ParseError, strOf, typeName } from '../fields.ts';
import { absoluteUrl, baseName, statusCode } from '../suricata/app.ts';
import { isIp, type Observables } from '../suricata/network.ts';
import { type NoticeOptions, noticeFinding } from './notice.ts';

export interface MapContext {
  r: Obj;
  log: string;
  obs: Observables;
  network: Network;
  /** `ip:port` of the originator and responder, for messages. */
  orig: string;
  resp: string;
  notice: NoticeOptions;
}

/** What a mapper adds to the event. */
export interface Parts {
  classUid: number;
  activity?: string;
  message?: string;
  severityId?: EventDraft['severity_id'];
  status?: EventDraft['status'];
  statusDetail?: string;
  user?: User;
  srcHost?: string;
  dstHost?: string;
  srcIp?: string;
  dstIp?: string;
  srcMac?: string;
  dstMac?: string;
  dstPort?: number;
  deviceIp?: string;
  http?: EventDraft['http'];
  dns?: EventDraft['dns'];
  file?: EventDraft['file'];
  finding?: EventDraft['finding'];
}

/**
 * Parts with every field present (undefined until set): one object shape for
 * every log, so the normaliser's reads of them stay monomorphic (objects
 * built with different keys made each read a generic lookup).
 */
export function newParts(classUid: number, message: string | undefined): Parts {
  return {
    classUid,
    activity: undefined,
    message,
    severityId: undefined,
    status: undefined,
    statusDetail: undefined,
    user: undefined,
    srcHost: undefined,
    dstHost: undefined,
    srcIp: undefined,
    dstIp: undefined,
    srcMac: undefined,
    dstMac: undefined,
    dstPort: undefined,
    deviceIp: undefined,
    http: undefined,
    dns: undefined,
    file: undefined,
    finding: undefined,
  };
}

export interface LogMapper {
  /** Fields fully represented in the normalised event (left out of `unmapped`). */
  consumed: ReadonlySet<string>;
  map(ctx: MapContext): Parts;
}

function count(r: Obj, key: string): number | undefined {
  const n = numOf(r[key], key);
  if (n !== undefined && n < 0) throw new ParseError(`${key} must not be negative, got ${n}`, key);
  return n;
}

function strings(r: Obj, key: string): string[] | undefined {
  const v = r[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v === '' ? [] : [v];
  if (!Array.isArray(v)) throw new ParseError(`${key} must be an array of strings, got ${typeName(v)}`, key);
  const out: string[] = [];
  for (const x of v) if (typeof x === 'string' || typeof x === 'number') out.push(String(x));
  return out;
}

/**
 * Zeek's service names in the vocabulary the other sources use: lower case,
 * and `ssl` as `tls` (Zeek's analyzer is called SSL; Suricata says tls).
 *
 * @example serviceName('ssl,HTTP') // 'tls,http'
 */
export function serviceName(s: string | undefined): string | undefined {
  if (s === undefined || s === '' || s === '-') return undefined;
  const parts = s.toLowerCase().split(',');
  for (let i = 0; i < parts.length; i++) if (parts[i] === 'ssl') parts[i] = 'tls';
  return parts.join(',');
}

function domain(obs: Observables, v: string | undefined, name: string): void {
  if (v === undefined || v === '') return;
  if (isIp(v)) obs.add('ip', v, name);
  else obs.add('domain', v.toLowerCase().replace(/^\*\./, ''), name);
}

/** `host:port` → host, for Host headers and server names. */
function hostOnly(host: string): string {
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']'));
  const colon = host.indexOf(':');
  return colon >= 0 && host.indexOf(':', colon + 1) < 0 ? host.slice(0, colon) : host;
}

const set = (...keys: string[]): ReadonlySet<string> => new Set(keys);

const conn: LogMapper = {
  consumed: set(
    'service',
    'duration',
    'orig_bytes',
    'resp_bytes',
    'orig_pkts',
    'resp_pkts',
    'conn_state',
    'history',
    'orig_l2_addr',
    'resp_l2_addr',
  ),
  map({ r, network, orig, resp }) {
    const service = serviceName(strOf(r.service, 'service'));
    if (service !== undefined) network.app_protocol = service;
    const duration = count(r, 'duration');
    if (duration !== undefined) {
      const ms = Math.round(duration * 1e6) / 1e3;
      if (!Number.isFinite(ms)) throw new ParseError(`duration is out of range: ${duration}`, 'duration');
      network.duration_ms = ms;
    }
    const ob = count(r, 'orig_bytes');
    const rb = count(r, 'resp_bytes');
    const op = count(r, 'orig_pkts');
    const rp = count(r, 'resp_pkts');
    if (ob !== undefined) network.bytes_out = ob;
    if (rb !== undefined) network.bytes_in = rb;
    if (op !== undefined) network.packets_out = op;
    if (rp !== undefined) network.packets_in = rp;
    const state = strOf(r.conn_state, 'conn_state');
    const history = strOf(r.history, 'history');
    if (state !== undefined || history !== undefined)
      network.state = `${state ?? '-'}${history !== undefined ? ` history=${history}` : ''}`;
    const parts = newParts(
      4001,
      `${network.protocol ?? 'ip'}${service ? `/${service}` : ''} ${orig} → ${resp}: ${ob ?? 0} bytes out, ${rb ?? 0} in${state ? ` (${state})` : ''}`,
    );
    const srcMac = strOf(r.orig_l2_addr, 'orig_l2_addr');
    const dstMac = strOf(r.resp_l2_addr, 'resp_l2_addr');
    if (srcMac !== undefined) parts.srcMac = srcMac;
    if (dstMac !== undefined) parts.dstMac = dstMac;
    return parts;
  },
};

const dns: LogMapper = {
  consumed: set('query', 'qtype_name', 'rcode_name', 'answers'),
  map({ r, obs, network, orig }) {
    const query = strOf(r.query, 'query');
    const qtype = strOf(r.qtype_name, 'qtype_name') ?? strOf(r.qtype, 'qtype');
    const rcode = strOf(r.rcode_name, 'rcode_name') ?? strOf(r.rcode, 'rcode');
    const answers = strings(r, 'answers');
    network.app_protocol = 'dns';
    const out: NonNullable<EventDraft['dns']> = {};
    if (query !== undefined) {
      out.query = query;
      obs.add('domain', query.toLowerCase(), 'dns.query');
    }
    if (qtype !== undefined) out.qtype = qtype;
    if (rcode !== undefined) out.rcode = rcode;
    if (answers && answers.length > 0) {
      out.answers = answers;
      for (let i = 0; i < answers.length && i < 16; i++)
        if (isIp(answers[i]!)) obs.add('ip', answers[i], 'dns.answers');
    }
    const rejected = boolOf(r.rejected, 'rejected');
    const parts = newParts(
      4003,
      `DNS ${qtype ?? ''} ${query ?? '?'} from ${orig}${rcode ? ` → ${rcode}` : ''}${answers?.length ? `: ${answers.slice(0, 3).join(', ')}` : ''}`,
    );
    parts.dns = out;
    if (rejected === true) parts.status = 'failure';
    else if (rcode !== undefined) parts.status = rcode === 'NOERROR' || rcode === '0' ? 'success' : 'failure';
    return parts;
  },
};

const http: LogMapper = {
  consumed: set('method', 'host', 'referrer', 'user_agent', 'status_code'),
  map({ r, obs, network }) {
    const method = strOf(r.method, 'method');
    const host = strOf(r.host, 'host');
    const uri = strOf(r.uri, 'uri');
    const ua = strOf(r.user_agent, 'user_agent');
    const status = statusCode(r, 'status_code', 'status_code');
    const referrer = strOf(r.referrer, 'referrer');
    network.app_protocol = 'http';
    const out: NonNullable<EventDraft['http']> = {};
    if (method !== undefined) out.method = method;
    if (uri !== undefined) {
      out.url = absoluteUrl(host, undefined, uri);
      obs.add('url', out.url, 'http.url');
    }
    if (host !== undefined) {
      out.hostname = hostOnly(host);
      domain(obs, out.hostname, 'http.hostname');
    }
    if (ua !== undefined) {
      out.user_agent = ua;
      obs.add('user_agent', ua, 'http.user_agent');
    }
    if (status !== undefined) out.status_code = status;
    if (referrer !== undefined) out.referrer = referrer;
    const parts = newParts(
      4002,
      `HTTP ${method ?? 'request'} ${out.url ?? '?'}${status !== undefined ? ` → ${status}` : ''}`,
    );
    parts.http = out;
    if (method !== undefined) parts.activity = method;
    if (out.hostname !== undefined && !isIp(out.hostname)) parts.dstHost = out.hostname;
    return parts;
  },
};

const ssl: LogMapper = {
  consumed: set('server_name'),
  map({ r, obs, network, orig, resp }) {
    const sni = strOf(r.server_name, 'server_name');
    const version = strOf(r.version, 'version');
    const established = boolOf(r.established, 'established');
    network.app_protocol = 'tls';
    domain(obs, sni, 'tls.sni');
    obs.add('hash', strOf(r.ja3, 'ja3'), 'tls.ja3');
    obs.add('hash', strOf(r.ja3s, 'ja3s'), 'tls.ja3s');
    const fps = strings(r, 'cert_chain_fps');
    if (fps?.[0]) obs.add('hash', fps[0], 'tls.cert_chain_fps');
    const parts = newParts(
      4001,
      `TLS${version ? ` ${version}` : ''} ${orig} → ${sni ?? resp}${established === false ? ' (not established)' : ''}`,
    );
    if (sni !== undefined) parts.dstHost = sni;
    if (established !== undefined) parts.status = established ? 'success' : 'failure';
    return parts;
  },
};

const ssh: LogMapper = {
  consumed: set('direction'),
  map({ r, obs, network, orig, resp }) {
    const client = strOf(r.client, 'client');
    const server = strOf(r.server, 'server');
    const success = boolOf(r.auth_success, 'auth_success');
    const attempts = intOf(r.auth_attempts, 'auth_attempts');
    network.app_protocol = 'ssh';
    // Zeek's own view of the direction, from its Site::local_nets.
    const dir = strOf(r.direction, 'direction');
    if (dir === 'INBOUND') network.direction = 'inbound';
    else if (dir === 'OUTBOUND') network.direction = 'outbound';
    obs.add('hash', strOf(r.hassh, 'hassh'), 'ssh.hassh');
    obs.add('hash', strOf(r.hasshServer, 'hasshServer'), 'ssh.hasshServer');
    obs.add('hash', strOf(r.host_key, 'host_key'), 'ssh.host_key');
    const parts = newParts(
      4007,
      `SSH ${client ?? '?'} ${orig} → ${server ?? '?'} ${resp}: authentication ${success === undefined ? 'unknown' : success ? 'succeeded' : 'failed'}${attempts !== undefined ? ` after ${attempts} attempt${attempts === 1 ? '' : 's'}` : ''}`,
    );
    if (success !== undefined) parts.status = success ? 'success' : 'failure';
    return parts;
  },
};

const notice: LogMapper = {
  consumed: set('note', 'msg', 'actions', 'src', 'dst', 'p'),
  map({ r, notice: options }) {
    const note = strOf(r.note, 'note');
    if (note === undefined) throw new ParseError('note is required in a notice', 'note');
    const msg = strOf(r.msg, 'msg');
    const finding = noticeFinding(note, msg, options, strings(r, 'actions') ?? []);
    const parts = newParts(2004, finding.title);
    parts.activity = note;
    parts.finding = finding;
    parts.severityId = ocsfFromSeverity(finding.severity);
    // Notices raised outside a connection name their addresses in src/dst/p.
    const src = strOf(r.src, 'src');
    const dst = strOf(r.dst, 'dst');
    if (src !== undefined) parts.srcIp = src;
    if (dst !== undefined) parts.dstIp = dst;
    const p = intOf(r.p, 'p');
    if (p !== undefined && p >= 0 && p <= 65535) parts.dstPort = p;
    return parts;
  },
};

/** Weird (and analyzer/DPD) records: protocol anomalies, unusual but rarely malicious alone. */
const weird: LogMapper = {
  consumed: set('name'),
  map({ r, orig, resp }) {
    const name = strOf(r.name, 'name');
    if (name === undefined) throw new ParseError('name is required in a weird record', 'name');
    const addl = strOf(r.addl, 'addl');
    const parts = newParts(4001, `Zeek weird ${name}${addl ? ` (${addl})` : ''} ${orig} → ${resp}`);
    parts.activity = name;
    parts.severityId = 2;
    parts.statusDetail = name;
    return parts;
  },
};

const files: LogMapper = {
  consumed: set('filename', 'mime_type', 'md5', 'sha1', 'sha256', 'tx_hosts', 'rx_hosts'),
  map({ r, obs, network }) {
    const filename = strOf(r.filename, 'filename');
    const mime = strOf(r.mime_type, 'mime_type');
    const size = count(r, 'total_bytes') ?? count(r, 'seen_bytes');
    const source = serviceName(strOf(r.source, 'source'));
    if (source !== undefined && network.app_protocol === undefined) network.app_protocol = source;
    const file: NonNullable<EventDraft['file']> = {};
    if (filename !== undefined) {
      file.name = baseName(filename);
      if (filename.includes('/') || filename.includes('\\')) file.path = filename;
      obs.add('file', filename, 'file.name');
    }
    if (size !== undefined) file.size = size;
    if (mime !== undefined) file.mime_type = mime;
    let hashes: Record<string, string> | undefined;
    for (const alg of ['md5', 'sha1', 'sha256'] as const) {
      const h = optStr(r, alg);
      if (h === undefined) continue;
      hashes ??= {};
      hashes[alg] = h;
      obs.add('hash', h, `file.hashes.${alg}`);
    }
    if (hashes) file.hashes = hashes;
    const parts = newParts(
      4010,
      `File ${filename ?? strOf(r.fuid, 'fuid') ?? '?'}${mime ? ` (${mime})` : ''}${size !== undefined ? `, ${size} bytes` : ''}${source ? ` over ${source}` : ''}`,
    );
    parts.file = file;
    // Before Zeek 5 files.log named hosts in tx_hosts/rx_hosts instead of a connection id.
    const tx = strings(r, 'tx_hosts')?.[0];
    const rx = strings(r, 'rx_hosts')?.[0];
    if (tx !== undefined) parts.srcIp = tx;
    if (rx !== undefined) parts.dstIp = rx;
    return parts;
  },
};

function commonName(dn: string | undefined): string | undefined {
  if (dn === undefined) return undefined;
  const m = /(?:^|,)\s*CN=((?:\\.|[^,])*)/.exec(dn);
  return m ? m[1]!.replace(/\\(.)/g, '$1') : undefined;
}

const x509: LogMapper = {
  consumed: set(),
  map({ r, obs, network }) {
    network.app_protocol = 'tls';
    obs.add('hash', strOf(r.fingerprint, 'fingerprint'), 'x509.fingerprint');
    const sans = strings(r, 'san.dns');
    if (sans) for (let i = 0; i < sans.length && i < 20; i++) domain(obs, sans[i], 'x509.san.dns');
    const subject = strOf(r['certificate.subject'], 'certificate.subject');
    const issuer = strOf(r['certificate.issuer'], 'certificate.issuer');
    return newParts(
      4001,
      `X.509 certificate ${commonName(subject) ?? subject ?? '?'} issued by ${commonName(issuer) ?? issuer ?? '?'}`,
    );
  },
};

const rdp: LogMapper = {
  consumed: set('cookie', 'client_name'),
  map({ r, obs, network, orig, resp }) {
    network.app_protocol = 'rdp';
    // The RDP cookie (mstshash) is the user name the client offers, possibly truncated.
    const cookie = strOf(r.cookie, 'cookie');
    const client = strOf(r.client_name, 'client_name');
    const result = strOf(r.result, 'result');
    obs.add('user', cookie, 'actor.user.name');
    obs.add('host', client, 'src_endpoint.hostname');
    const parts = newParts(
      4005,
      `RDP ${orig} → ${resp}${cookie ? ` as ${cookie}` : ''}${result ? `: ${result}` : ''}`,
    );
    if (cookie !== undefined) parts.user = { name: cookie };
    if (client !== undefined) parts.srcHost = client;
    if (result !== undefined) {
      // `encrypted` means the negotiation went on inside TLS, where Zeek cannot see the outcome.
      if (result === 'Success') parts.status = 'success';
      else if (result !== 'encrypted') parts.status = 'failure';
      parts.statusDetail = result;
    }
    return parts;
  },
};

const smbFiles: LogMapper = {
  consumed: set('action', 'name', 'size'),
  map({ r, obs, network }) {
    network.app_protocol = 'smb';
    const action = strOf(r.action, 'action');
    const name = strOf(r.name, 'name');
    const share = strOf(r.path, 'path');
    const size = count(r, 'size');
    const file: NonNullable<EventDraft['file']> = {};
    if (name !== undefined) {
      file.name = baseName(name);
      file.path = share ? `${share.replace(/\\+$/, '')}\\${name.replace(/^\\+/, '')}` : name;
      obs.add('file', file.path, 'file.path');
    }
    if (size !== undefined) file.size = size;
    const parts = newParts(4006, `SMB ${action ?? 'file'} ${file.path ?? '?'}`);
    parts.file = file;
    if (action !== undefined) parts.activity = action;
    return parts;
  },
};

/** Server name of a UNC path (`\\SERVER\share`), unless it is an address. */
function uncServer(path: string | undefined): string | undefined {
  const m = path === undefined ? null : /^\\\\([^\\]+)\\/.exec(path);
  return m && !isIp(m[1]!) ? m[1] : undefined;
}

const smbMapping: LogMapper = {
  consumed: set(),
  map({ r, obs, network, orig, resp }) {
    network.app_protocol = 'smb';
    const path = strOf(r.path, 'path');
    const server = uncServer(path);
    obs.add('host', server, 'dst_endpoint.hostname');
    const parts = newParts(
      4006,
      `SMB share ${path ?? '?'}${strOf(r.share_type, 'share_type') ? ` (${strOf(r.share_type, 'share_type')})` : ''} ${orig} → ${resp}`,
    );
    if (server !== undefined) parts.dstHost = server;
    return parts;
  },
};

const kerberos: LogMapper = {
  consumed: set('client', 'success', 'error_msg', 'request_type'),
  map({ r, obs, network }) {
    network.app_protocol = 'krb';
    const client = strOf(r.client, 'client');
    const service = strOf(r.service, 'service');
    const type = strOf(r.request_type, 'request_type');
    const success = boolOf(r.success, 'success');
    const error = strOf(r.error_msg, 'error_msg');
    const parts = newParts(
      3002,
      `Kerberos ${type ?? ''} ${client ?? '?'} for ${service ?? '?'}${success === undefined ? '' : success ? ': success' : `: failed${error ? ` (${error})` : ''}`}`,
    );
    if (type !== undefined) parts.activity = type;
    if (client !== undefined) {
      // Zeek writes the client principal as name/REALM.
      const slash = client.lastIndexOf('/');
      const name = slash >= 0 ? client.slice(0, slash) : client;
      const realm = slash >= 0 ? client.slice(slash + 1) : undefined;
      const user: User = {};
      if (name !== '') user.name = name;
      if (realm) user.domain = realm;
      if (user.name !== undefined || user.domain !== undefined) parts.user = user;
      obs.add('user', user.name, 'actor.user.name');
    }
    if (success !== undefined) parts.status = success ? 'success' : 'failure';
    if (error !== undefined) parts.statusDetail = error;
    return parts;
  },
};

const ntlm: LogMapper = {
  consumed: set('username', 'domainname', 'hostname', 'success'),
  map({ r, obs }) {
    const username = strOf(r.username, 'username');
    const domainName = strOf(r.domainname, 'domainname');
    const hostname = strOf(r.hostname, 'hostname');
    const server =
      strOf(r.server_dns_computer_name, 'server_dns_computer_name') ??
      strOf(r.server_nb_computer_name, 'server_nb_computer_name');
    // Zeek ≥ 3 writes `success`; older versions a `status` text.
    const success = boolOf(r.success, 'success');
    const status = strOf(r.status, 'status');
    obs.add('user', username, 'actor.user.name');
    obs.add('host', hostname, 'src_endpoint.hostname');
    obs.add('host', server, 'dst_endpoint.hostname');
    const who = username === undefined ? '?' : domainName ? `${domainName}\\${username}` : username;
    const parts = newParts(
      3002,
      `NTLM ${who} from ${hostname ?? '?'} to ${server ?? '?'}${success === undefined ? '' : success ? ': success' : ': failed'}`,
    );
    if (username !== undefined || domainName !== undefined) {
      const user: User = {};
      if (username !== undefined) user.name = username;
      if (domainName !== undefined) user.domain = domainName;
      parts.user = user;
    }
    if (hostname !== undefined) parts.srcHost = hostname;
    if (server !== undefined) parts.dstHost = server;
    if (success !== undefined) parts.status = success ? 'success' : 'failure';
    else if (status !== undefined) parts.status = status === 'SUCCESS' ? 'success' : 'failure';
    return parts;
  },
};

/** Logs with a specific mapping. */
export const LOG_MAPPERS: Readonly<Record<string, LogMapper>> = {
  conn,
  dns,
  http,
  ssl,
  ssh,
  notice,
  weird,
  files,
  x509,
  rdp,
  smb_files: smbFiles,
  smb_mapping: smbMapping,
  kerberos,
  ntlm,
};

/** OCSF class of logs without a specific mapping (with endpoints: Network Activity; without: Base Event). */
export const GENERIC_CLASS: Readonly<Record<string, number>> = {
  ftp: 4008,
  smtp: 4009,
  dhcp: 4004,
  dce_rpc: 4001,
  known_hosts: 5001,
  known_services: 5001,
  known_certs: 5001,
  software: 5001,
};

/** The verb of a generic record, where its log has one. */
export function genericActivity(log: string, r: Obj): string | undefined {
  switch (log) {
    case 'dce_rpc':
      return strOf(r.operation, 'operation');
    case 'ftp':
      return strOf(r.command, 'command');
    case 'analyzer':
      return `${strOf(r.analyzer_name, 'analyzer_name') ?? 'analyzer'} ${strOf(r.cause, 'cause') ?? 'violation'}`;
    case 'dpd':
      return `${strOf(r.analyzer, 'analyzer') ?? 'analyzer'} violation`;
    default:
      return undefined;
  }
}
