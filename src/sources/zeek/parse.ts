import type { Endpoint, EventDraft, Network } from '../../schema/event.ts';
import { OCSF } from '../../schema/event.ts';
import { asObj, isObj, type Obj, ParseError, portOf, strOf } from '../fields.ts';
import { contentKey, type HomeNet, Observables, parseSensorTime } from '../suricata/network.ts';
import { inferZeekLog } from './infer.ts';
import { GENERIC_CLASS, genericActivity, LOG_MAPPERS, newParts, type Parts } from './logs.ts';
import type { NoticeOptions } from './notice.ts';
import { TSV_ERROR } from './tsv.ts';

/**
 * Fields every log shares, mapped by the common part (and the framer's
 * error key). A switch rather than a Set: V8 compares the record's keys
 * (interned strings) by identity, several times faster than hashing each
 * key of every record.
 */
function isCommon(k: string): boolean {
  switch (k) {
    case '_path':
    case '_write_ts':
    case 'ts':
    case 'uid':
    case 'id.orig_h':
    case 'id.orig_p':
    case 'id.resp_h':
    case 'id.resp_p':
    case 'proto':
    case TSV_ERROR:
      return true;
    default:
      return false;
  }
}
const EMPTY = new Set<string>();
/** Logs that are protocol anomalies: low severity, like weird. */
const ANOMALY_LOGS = new Set(['weird', 'analyzer', 'dpd']);

export interface ZeekOptions {
  homeNet: HomeNet;
  /** Log types counted but not stored. */
  skip: ReadonlySet<string>;
  notice: NoticeOptions;
}

/**
 * Flatten nested records (`{"id": {"orig_h": …}}`, as some exporters write
 * Zeek's record fields) into Zeek's own dotted names (`id.orig_h`).
 */
function flatten(r: Obj): Obj {
  let nested = false;
  for (const k in r) {
    const v = r[k];
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      nested = true;
      break;
    }
  }
  if (!nested) return r;
  const out: Obj = {};
  const walk = (o: Obj, prefix: string, depth: number) => {
    for (const k in o) {
      const v = o[k];
      if (depth < 8 && typeof v === 'object' && v !== null && !Array.isArray(v))
        walk(v as Obj, `${prefix}${k}.`, depth + 1);
      else out[`${prefix}${k}`] = v;
    }
  };
  walk(r, '', 0);
  return out;
}

function endpointText(ip: string | undefined, port: number | undefined): string {
  if (ip === undefined) return '?';
  const host = ip.includes(':') ? `[${ip}]` : ip;
  return port === undefined ? host : `${host}:${port}`;
}

function endpoint(
  ip: string | undefined,
  port: number | undefined,
  host: string | undefined,
  mac: string | undefined,
): Endpoint | undefined {
  if (ip === undefined && port === undefined && host === undefined && mac === undefined) return undefined;
  const e: Endpoint = {};
  if (ip !== undefined) e.ip = ip;
  if (port !== undefined) e.port = port;
  if (host !== undefined) e.hostname = host;
  if (mac !== undefined) e.mac = mac;
  return e;
}

/**
 * The record's own id, as the Zeek logs give it: the connection `uid`,
 * else the file id (`fuid`, `id` in files-derived logs such as x509 before
 * Zeek 4.2), else the certificate fingerprint; records with none (known
 * hosts, software) get a hash of their content, so ingesting them twice
 * stores them once.
 */
function sourceId(r: Obj, uid: string | undefined): string {
  if (uid !== undefined) return uid;
  const fuid = strOf(r.fuid, 'fuid');
  if (fuid !== undefined) return fuid;
  if (typeof r.id === 'string' && r.id !== '') return r.id;
  const fp = strOf(r.fingerprint, 'fingerprint');
  if (fp !== undefined) return fp;
  return `content:${contentKey(r)}`;
}

/**
 * Zeek log records (JSON, or TSV framed by {@link frameZeek}) → normalised
 * events. The log type comes from `_path`/`#path` or is inferred from the
 * fields; logs in `skip` are counted, not stored.
 *
 * @example
 * const normalise = zeekNormaliser({ homeNet: new HomeNet([]), skip: new Set(), notice: { overrides: {}, fallback: 'medium' } });
 * normalise({ ts: 1711111111.5, uid: 'CAbc1', 'id.orig_h': '10.0.0.5', 'id.orig_p': 51000, 'id.resp_h': '10.0.0.53', 'id.resp_p': 53, proto: 'udp', query: 'example.com', qtype_name: 'A' })[0].dns // { query: 'example.com', qtype: 'A' }
 */
export function zeekNormaliser(options: ZeekOptions): (record: unknown) => EventDraft[] {
  const { homeNet, skip, notice } = options;
  return (record) => {
    const input = asObj(record);
    const tsvError = input[TSV_ERROR];
    if (typeof tsvError === 'string') throw new ParseError(tsvError, '#fields');
    const r = flatten(input);
    const log = inferZeekLog(r);
    if (log !== undefined && skip.has(log)) return [];
    const time = parseSensorTime(r.ts, 'ts');
    // Fields read by name, not with optStr(r, key): see strOf in ../fields.ts.
    const uid = strOf(r.uid, 'uid');
    const origIp = strOf(r['id.orig_h'], 'id.orig_h');
    const origPort = portOf(r['id.orig_p'], 'id.orig_p');
    const respIp = strOf(r['id.resp_h'], 'id.resp_h');
    const respPort = portOf(r['id.resp_p'], 'id.resp_p');
    const proto = strOf(r.proto, 'proto');

    const obs = new Observables();
    obs.ip(origIp, 'src_endpoint.ip');
    obs.ip(respIp, 'dst_endpoint.ip');
    const network: Network = {};
    if (proto !== undefined) network.protocol = proto.toLowerCase();
    if (uid !== undefined) network.flow_uid = uid;

    const mapper = log === undefined ? undefined : LOG_MAPPERS[log];
    const ctx = {
      r,
      log: log ?? 'unknown',
      obs,
      network,
      orig: endpointText(origIp, origPort),
      resp: endpointText(respIp, respPort),
      notice,
    };
    let parts: Parts;
    if (mapper) parts = mapper.map(ctx);
    else {
      const name = log ?? 'unknown';
      const hostIp = strOf(r.host, 'host');
      const activity = genericActivity(name, r);
      const reason = strOf(r.failure_reason, 'failure_reason');
      parts = newParts(
        GENERIC_CLASS[name] ?? (origIp !== undefined || respIp !== undefined ? 4001 : 0),
        `Zeek ${name}${activity ? ` ${activity}` : ''}${
          origIp !== undefined || respIp !== undefined
            ? ` ${ctx.orig} → ${ctx.resp}`
            : hostIp
              ? ` ${hostIp}`
              : ''
        }${reason ? `: ${reason.slice(0, 200)}` : ''}`,
      );
      if (activity !== undefined) parts.activity = activity;
      // Inventory logs (known_hosts, known_services, software) describe one host.
      if (hostIp !== undefined && isIpLike(hostIp)) parts.deviceIp = hostIp;
      if (ANOMALY_LOGS.has(name)) parts.severityId = 2;
    }

    const srcIp = origIp ?? parts.srcIp;
    const dstIp = respIp ?? parts.dstIp;
    const dstPort = respPort ?? parts.dstPort;
    if (origIp === undefined) obs.ip(srcIp, 'src_endpoint.ip');
    if (respIp === undefined) obs.ip(dstIp, 'dst_endpoint.ip');
    obs.ip(parts.deviceIp, 'device.ip');
    if (network.direction === undefined) {
      const direction = localDirection(r) ?? homeNet.direction(srcIp, dstIp);
      if (direction !== undefined) network.direction = direction;
    }

    const consumed = mapper?.consumed ?? EMPTY;
    let unmapped: Obj | undefined;
    for (const k in r) {
      if (isCommon(k) || consumed.has(k)) continue;
      const v = r[k];
      if (v === undefined || v === null) continue;
      unmapped ??= {};
      unmapped[k] = v;
    }
    let network_: Network | undefined;
    for (const _ in network) {
      network_ = network;
      break;
    }
    const classUid = parts.classUid;
    const category = Math.floor(classUid / 1000);
    return [
      {
        class_uid: classUid,
        class_name: OCSF.classes[classUid] ?? 'Base Event',
        category_uid: category,
        category_name: OCSF.categories[category] ?? 'Uncategorized',
        source_event_id: sourceId(r, uid),
        time: time.iso,
        activity_name: parts.activity ?? log ?? 'zeek',
        severity_id: parts.severityId ?? 1,
        status: parts.status,
        status_detail: parts.statusDetail,
        message: parts.message,
        actor: parts.user ? { user: parts.user } : undefined,
        src_endpoint: endpoint(srcIp, origPort, parts.srcHost, parts.srcMac),
        dst_endpoint: endpoint(dstIp, dstPort, parts.dstHost, parts.dstMac),
        device: parts.deviceIp === undefined ? undefined : { ip: parts.deviceIp },
        network: network_,
        http: parts.http,
        dns: parts.dns,
        file: parts.file,
        finding: parts.finding,
        observables: obs.list,
        metadata: { product: 'Zeek', vendor: 'Zeek', log_name: log },
        unmapped,
        raw: record,
        // Left for finalizeEvent to fill (see EventDraft): the event keeps this literal's shape.
        id: undefined,
        source: undefined,
        ingested_at: undefined,
      },
    ];
  };
}

function isIpLike(s: string): boolean {
  return /^[0-9a-fA-F:.]+$/.test(s) && (s.includes('.') || s.includes(':'));
}

/** Zeek's own idea of local (Site::local_nets), when the conn log carries it. */
function localDirection(r: Obj): Network['direction'] | undefined {
  const lo = r.local_orig;
  const lr = r.local_resp;
  if (typeof lo !== 'boolean' || typeof lr !== 'boolean') return undefined;
  if (lo && lr) return 'lateral';
  if (lo) return 'outbound';
  if (lr) return 'inbound';
  return 'unknown';
}

/**
 * Likelihood that a record is Zeek's: a JSON object with Zeek's connection
 * id fields or `_path`, or a TSV header line.
 */
export function sniffZeek(value: unknown): number {
  if (typeof value === 'string') {
    if (/^#(separator|set_separator|empty_field|unset_field|path|fields|types|open|close)[ \t]/.test(value))
      return 0.95;
    // A TSV data line: epoch seconds with microseconds, then a tab.
    return /^\d{9,10}\.\d{6}\t/.test(value) ? 0.5 : 0;
  }
  if (!isObj(value)) return 0;
  if (typeof value._path === 'string' && '_write_ts' in value) return 0.95;
  const conn = 'id.orig_h' in value || (isObj(value.id) && 'orig_h' in value.id);
  if (typeof value.uid === 'string' && conn) return 0.9;
  if (typeof value._path === 'string' && 'ts' in value) return 0.85;
  if (typeof value.ts === 'number' && value.ts > 1e8 && value.ts < 1e11 && inferZeekLog(value) !== undefined)
    return 0.6;
  return 0;
}
