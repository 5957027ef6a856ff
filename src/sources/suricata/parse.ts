import { type OcsfSeverityId, ocsfFromSeverity, type SeverityName } from '../../schema/common.ts';
import { type Endpoint, type EventDraft, type Network, OCSF } from '../../schema/event.ts';
import { asObj, isObj, type Obj, objOf, ParseError, portOf, strOf, typeName } from '../fields.ts';
import { mapAlert } from './alert.ts';
import { type Building, mapDns, mapFileinfo, mapHttp, mapMail, mapSsh, mapTls } from './app.ts';
import { applyFlow, applyNetflow, sourceIsClient } from './flow.ts';
import { contentKey, type HomeNet, Observables, omit, parseSensorTime } from './network.ts';

/** OCSF class per EVE event type; other types are Network Activity. */
const CLASS_OF: Record<string, number> = {
  alert: 2004,
  flow: 4001,
  netflow: 4001,
  anomaly: 4001,
  dns: 4003,
  http: 4002,
  http2: 4002,
  tls: 4001,
  quic: 4001,
  ssh: 4007,
  fileinfo: 4010,
  smb: 4006,
  rdp: 4005,
  ftp: 4008,
  ftp_data: 4008,
  tftp: 4008,
  smtp: 4009,
  dhcp: 4004,
};

/**
 * Top-level fields mapped into the event (or left to `raw` only: payloads
 * can be large). A switch rather than a Set: V8 compares the record's keys
 * (interned strings) by identity, several times faster than hashing each
 * key of every record.
 */
function isTopMapped(k: string): boolean {
  switch (k) {
    case 'timestamp':
    case 'flow_id':
    case 'event_type':
    case 'src_ip':
    case 'src_port':
    case 'dest_ip':
    case 'dest_port':
    case 'proto':
    case 'app_proto':
    case 'in_iface':
    case 'host':
    case 'flow':
    case 'netflow':
    case 'alert':
    case 'http':
    case 'dns':
    case 'tls':
    case 'ssh':
    case 'fileinfo':
    case 'smtp':
    case 'email':
    case 'payload':
    case 'payload_printable':
    case 'packet':
      return true;
    default:
      return false;
  }
}
/**
 * `omit(flow, …)` of the counters applyFlow maps (pkts_/bytes_ toserver and
 * toclient, start, end), with a switch for the same reason as isTopMapped.
 */
function flowRest(flow: Obj): Obj | undefined {
  let out: Obj | undefined;
  for (const k in flow) {
    switch (k) {
      case 'pkts_toserver':
      case 'pkts_toclient':
      case 'bytes_toserver':
      case 'bytes_toclient':
      case 'start':
      case 'end':
        continue;
    }
    const v = flow[k];
    if (v === undefined) continue;
    if (!out) out = {};
    out[k] = v;
  }
  return out;
}
const NETFLOW_MAPPED = new Set(['pkts', 'bytes', 'start', 'end']);

/**
 * The alert's fields kept in `unmapped.alert`, in this order: gid, rev,
 * category, action, metadata, source, target, xff, rule (those set). Read
 * by name rather than `alert[k]` over a list: that generic lookup per key
 * was a visible share of every alert's cost.
 */
function alertUnmapped(alert: Obj): Obj {
  const a: Obj = {};
  const { gid, rev, category, action, metadata, source, target, xff, rule } = alert;
  if (gid !== undefined && gid !== null) a.gid = gid;
  if (rev !== undefined && rev !== null) a.rev = rev;
  if (category !== undefined && category !== null) a.category = category;
  if (action !== undefined && action !== null) a.action = action;
  if (metadata !== undefined && metadata !== null) a.metadata = metadata;
  if (source !== undefined && source !== null) a.source = source;
  if (target !== undefined && target !== null) a.target = target;
  if (xff !== undefined && xff !== null) a.xff = xff;
  if (rule !== undefined && rule !== null) a.rule = rule;
  return a;
}

/** ocsfFromSeverity as a table: it builds its lookup object on every call. */
const SEVERITY_ID: Readonly<Record<SeverityName, OcsfSeverityId>> = {
  informational: ocsfFromSeverity('informational'),
  low: ocsfFromSeverity('low'),
  medium: ocsfFromSeverity('medium'),
  high: ocsfFromSeverity('high'),
  critical: ocsfFromSeverity('critical'),
};

export interface SuricataOptions {
  homeNet: HomeNet;
  /** Event types counted but not stored (`stats` always is). */
  skip: ReadonlySet<string>;
}

function endpoint(ip: string | undefined, port: number | undefined): string {
  if (ip === undefined) return '?';
  const host = ip.includes(':') ? `[${ip}]` : ip;
  return port === undefined ? host : `${host}:${port}`;
}

/** The flow id as text: EVE writes a number (masked by Suricata to 51 bits, so JSON keeps it exact). */
function flowIdOf(r: Obj): string | undefined {
  const v = r.flow_id;
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return String(v);
  if (typeof v === 'string' && /^\d{1,20}$/.test(v)) return v;
  throw new ParseError(`flow_id must be a non-negative integer, got ${typeName(v)}`, 'flow_id');
}

/**
 * Suricata EVE records → normalised events. `stats` records (engine
 * counters, not traffic) return no event, so ingestion counts them as
 * skipped. Types without a specific mapping keep their object in
 * `unmapped.<event_type>`.
 *
 * @example
 * const normalise = suricataNormaliser({ homeNet: new HomeNet(['10.0.0.0/8']), skip: new Set() });
 * normalise({ timestamp: '2024-05-01T10:00:00.000001+0000', event_type: 'alert', flow_id: 1, src_ip: '203.0.113.9', dest_ip: '10.0.0.5', alert: { signature_id: 2001219, signature: 'ET SCAN Potential SSH Scan', severity: 2 } })[0].finding.severity // 'medium'
 */
export function suricataNormaliser(options: SuricataOptions): (record: unknown) => EventDraft[] {
  const { homeNet, skip } = options;
  return (record) => {
    const r = asObj(record);
    // Fields are read by name (`strOf(r.src_ip, …)`), not with optStr(r, key): see strOf in ../fields.ts.
    const eventType = strOf(r.event_type, 'event_type');
    if (eventType === undefined) throw new ParseError('event_type is required', 'event_type');
    if (eventType === 'stats' || skip.has(eventType)) return [];
    const rawTime = r.timestamp;
    const time = parseSensorTime(rawTime, 'timestamp');
    const srcIp = strOf(r.src_ip, 'src_ip');
    const srcPort = portOf(r.src_port, 'src_port');
    const dstIp = strOf(r.dest_ip, 'dest_ip');
    const dstPort = portOf(r.dest_port, 'dest_port');
    const proto = strOf(r.proto, 'proto');
    const appProto = strOf(r.app_proto, 'app_proto');
    const flowId = flowIdOf(r);

    const obs = new Observables();
    // homeNet.contains answers isIp too (undefined: not an address): each address is looked at once.
    const srcHome = srcIp === undefined ? undefined : homeNet.contains(srcIp);
    const dstHome = dstIp === undefined ? undefined : homeNet.contains(dstIp);
    if (srcHome !== undefined) obs.add('ip', srcIp, 'src_endpoint.ip');
    if (dstHome !== undefined) obs.add('ip', dstIp, 'dst_endpoint.ip');

    const network: Network = {};
    if (proto !== undefined) network.protocol = proto.toLowerCase();
    // `failed` means protocol detection gave up: no application protocol.
    if (appProto !== undefined && appProto !== 'failed') network.app_protocol = appProto.toLowerCase();
    if (flowId !== undefined) network.flow_uid = flowId;
    const flow = objOf(r.flow, 'flow');
    const tcp = objOf(r.tcp, 'tcp');
    const dns = objOf(r.dns, 'dns');
    const fromClient = sourceIsClient(r, flow, srcIp, srcPort) && !isDnsAnswer(r, dns);
    // Direction is the connection's, seen from its client, whichever way this record's packet went.
    const direction = fromClient
      ? homeNet.directionOf(srcIp, dstIp, srcHome, dstHome)
      : homeNet.directionOf(dstIp, srcIp, dstHome, srcHome);
    if (direction !== undefined) network.direction = direction;
    const unmapped: Record<string, unknown> = {};
    if (eventType === 'netflow') {
      const nf = objOf(r.netflow, 'netflow');
      if (nf) {
        applyNetflow(network, nf, tcp);
        const rest = omit(nf, NETFLOW_MAPPED);
        if (rest) unmapped.netflow = rest;
      }
    } else if (flow) {
      applyFlow(network, flow, fromClient, time, tcp);
      const rest = flowRest(flow);
      if (rest) unmapped.flow = rest;
    } else if (tcp) {
      const flags = strOf(tcp.tcp_flags, 'tcp.tcp_flags');
      if (flags !== undefined) network.state = `flags=${flags}`;
    }

    let src = endpointOf(srcIp, srcPort);
    let dst = endpointOf(dstIp, dstPort);
    const iface = strOf(r.in_iface, 'in_iface');
    const sensor = strOf(r.host, 'host');
    let device: Endpoint | undefined;
    if (iface !== undefined || sensor !== undefined) {
      device = {};
      if (sensor !== undefined) device.hostname = sensor;
      if (iface !== undefined) device.interface = iface;
    }

    // Every field set up front: one shape for all records, so reading them below stays cheap.
    const b: Building = {
      obs,
      unmapped,
      dns: undefined,
      http: undefined,
      file: undefined,
      serverName: undefined,
    };
    // Application-layer objects: in their own records, and as context in alerts.
    const http = objOf(r.http, 'http');
    if (http) mapHttp(http, b);
    if (dns) mapDns(dns, b);
    const tls = objOf(r.tls, 'tls');
    const tlsVersion = tls ? mapTls(tls, b) : undefined;
    // The SNI names the server: the destination, unless this record's packet came from the server.
    if (b.serverName !== undefined) {
      if (fromClient) dst = { ...dst, hostname: b.serverName };
      else src = { ...src, hostname: b.serverName };
    }
    const ssh = objOf(r.ssh, 'ssh');
    const sshSoftware = ssh ? mapSsh(ssh, b) : undefined;
    const smtp = objOf(r.smtp, 'smtp');
    const email = objOf(r.email, 'email');
    if (smtp || email) mapMail(smtp, email, b);

    const from = endpoint(srcIp, srcPort);
    const to = endpoint(dstIp, dstPort);
    let discriminator = '';
    let message: string;
    let severityId: EventDraft['severity_id'] = 1;
    let status: EventDraft['status'];
    let statusDetail: string | undefined;
    let finding: EventDraft['finding'];
    switch (eventType) {
      case 'alert': {
        const alert = objOf(r.alert, 'alert');
        if (!alert) throw new ParseError('alert is required for event_type alert', 'alert');
        const m = mapAlert(alert);
        finding = m.finding;
        severityId = SEVERITY_ID[m.finding.severity];
        statusDetail = m.action;
        unmapped.alert = alertUnmapped(alert);
        message = `${m.finding.title} [${m.gid ?? 1}:${m.signatureId}:${m.rev ?? 0}] ${from} → ${to}`;
        discriminator = `:${m.gid ?? 1}:${m.signatureId}`;
        break;
      }
      case 'flow':
      case 'netflow': {
        const packets = (network.packets_out ?? 0) + (network.packets_in ?? 0);
        const bytes = (network.bytes_out ?? 0) + (network.bytes_in ?? 0);
        message = `${network.protocol ?? 'ip'} flow ${from} → ${to}: ${packets} packets, ${bytes} bytes${network.state ? ` (${network.state})` : ''}`;
        // Netflow writes each side of a flow as its own record, with the same id and time.
        if (eventType === 'netflow') discriminator = `:${from}`;
        break;
      }
      case 'dns': {
        const d = b.dns;
        const type = dns ? strOf(dns.type, 'dns.type') : undefined;
        message = `DNS ${type ?? 'event'} ${d?.query ?? '?'}${d?.qtype ? ` ${d.qtype}` : ''}${d?.rcode ? ` ${d.rcode}` : ''}`;
        if (d?.rcode !== undefined) status = d.rcode === 'NOERROR' ? 'success' : 'failure';
        // Version 1 writes one record per answer, all with the same id and time.
        if (dns) {
          const rdata = strOf(dns.rdata, 'dns.rdata');
          discriminator = `:${type ?? ''}:${strOf(dns.id, 'dns.id') ?? ''}${rdata === undefined ? '' : `:${rdata}`}`;
        }
        break;
      }
      case 'http':
      case 'http2': {
        const h = b.http;
        message = `HTTP ${h?.method ?? 'request'} ${h?.url ?? '?'}${h?.status_code !== undefined ? ` → ${h.status_code}` : ''}`;
        break;
      }
      case 'tls':
        message = `TLS${tlsVersion ? ` ${tlsVersion}` : ''} ${from} → ${b.serverName ?? to}`;
        break;
      case 'ssh':
        message = `SSH ${sshSoftware?.client ?? '?'} ${from} → ${sshSoftware?.server ?? '?'} ${to}`;
        break;
      case 'fileinfo': {
        const fi = objOf(r.fileinfo, 'fileinfo');
        if (!fi) throw new ParseError('fileinfo is required for event_type fileinfo', 'fileinfo');
        const f = mapFileinfo(fi, b);
        message = `File ${f.path ?? '?'}${f.size !== undefined ? ` (${f.size} bytes)` : ''} ${from} → ${to}`;
        discriminator = `:${strOf(fi.file_id, 'fileinfo.file_id') ?? strOf(fi.fid, 'fileinfo.fid') ?? f.path ?? ''}`;
        break;
      }
      case 'anomaly': {
        const an = objOf(r.anomaly, 'anomaly');
        const kind = an ? strOf(an.type, 'anomaly.type') : undefined;
        const ev = an ? strOf(an.event, 'anomaly.event') : undefined;
        // Protocol anomalies are unusual but rarely malicious on their own.
        severityId = 2;
        statusDetail = ev;
        message = `Anomaly (${kind ?? 'unknown'}) ${ev ?? '?'} ${from} → ${to}`;
        if (an) unmapped.anomaly = an;
        discriminator = `:${kind ?? ''}:${ev ?? ''}`;
        break;
      }
      default: {
        const obj = r[eventType];
        if (isObj(obj)) unmapped[eventType] = obj;
        message = `${eventType} ${from} → ${to}`;
      }
    }

    let anyUnmapped = false;
    for (const k in r) if (!isTopMapped(k) && r[k] !== undefined && !(k in unmapped)) unmapped[k] = r[k];
    for (const _ in unmapped) {
      anyUnmapped = true;
      break;
    }
    const txId = r.tx_id;
    if (typeof txId === 'number' || typeof txId === 'string') discriminator += `:tx${txId}`;
    const classUid = CLASS_OF[eventType] ?? 4001;
    return [
      {
        class_uid: classUid,
        class_name: OCSF.classes[classUid] ?? 'Base Event',
        category_uid: Math.floor(classUid / 1000),
        category_name: OCSF.categories[Math.floor(classUid / 1000)] ?? 'Uncategorized',
        // The source id is flow + event type + time as written, plus what tells apart records sharing them.
        source_event_id:
          flowId !== undefined
            ? `${flowId}:${eventType}:${String(rawTime)}${discriminator}`
            : `${eventType}:${String(rawTime)}:${contentKey(r)}`,
        time: time.iso,
        activity_name: eventType,
        severity_id: severityId,
        status,
        status_detail: statusDetail,
        message,
        src_endpoint: src,
        dst_endpoint: dst,
        device,
        network,
        http: b.http,
        dns: b.dns,
        file: b.file,
        finding,
        observables: obs.list,
        metadata: { product: 'Suricata', vendor: 'OISF', log_name: 'eve' },
        unmapped: anyUnmapped ? unmapped : undefined,
        raw: record,
        // Left for finalizeEvent to fill (see EventDraft): the event keeps this literal's shape.
        id: undefined,
        source: undefined,
        ingested_at: undefined,
      },
    ];
  };
}

/**
 * DNS answers are written in the packet's direction (from the server) by
 * versions that do not say which way the record goes.
 */
function isDnsAnswer(r: Obj, dns: Obj | undefined): boolean {
  if (!dns || r.direction !== undefined) return false;
  return dns.type === 'answer' || dns.type === 'response';
}

function endpointOf(ip: string | undefined, port: number | undefined): Endpoint | undefined {
  if (ip === undefined && port === undefined) return undefined;
  return ip === undefined ? { port } : port === undefined ? { ip } : { ip, port };
}

/** Likelihood that a record is a Suricata EVE record. */
export function sniffSuricata(value: unknown): number {
  if (!isObj(value) || typeof value.event_type !== 'string') return 0;
  let score = 0.3;
  if (typeof value.timestamp === 'string') score += 0.2;
  if ('flow_id' in value) score += 0.3;
  if ('src_ip' in value || 'dest_ip' in value) score += 0.15;
  if (value.event_type === 'stats' && isObj(value.stats)) score += 0.4;
  return Math.min(score, 0.95);
}
