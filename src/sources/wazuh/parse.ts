import { ocsfFromSeverity } from '../../schema/common.ts';
import { type EventDraft, ocsfClass } from '../../schema/event.ts';
import { asObj, isObj, type Obj, optInt, optObj, ParseError, reqStr, toIsoTime } from '../fields.ts';
import { ipOrUndefined, Observables, present, prune, pruneOrUndefined } from '../guardduty/draft.ts';
import { awsPieces } from './aws.ts';
import { auditPieces, syscheckPieces } from './host.ts';
import { type Pieces, Reader } from './reader.ts';
import { WAZUH_MAX_LEVEL, wazuhSeverity } from './severity.ts';
import { windowsPieces } from './windows.ts';

const TECHNIQUE = /^T\d{4}(\.\d{3})?$/;
const AUTH_SUCCESS = ['authentication_success'];
const AUTH_FAILURE = [
  'authentication_failed',
  'authentication_failures',
  'win_authentication_failed',
  'invalid_login',
];
const HTTP_GROUPS = ['web', 'accesslog', 'web_scan'];
/** Compliance mappings Wazuh moves out of `rule.groups` into their own members. */
const COMPLIANCE = [
  'pci_dss',
  'gdpr',
  'hipaa',
  'nist_800_53',
  'nist_800_171',
  'tsc',
  'gpg13',
  'cis',
  'cmmc',
  'iso_27001',
  'nis2',
  'fedramp',
];

/**
 * Expand a parsed value into alerts: a bare alert (a line of alerts.json,
 * or what the integration posts), or an export of the Wazuh indexer
 * (`{"hits": {"hits": [{"_source": alert}]}}` or one `{"_source": alert}`).
 */
export function unwrapWazuh(value: unknown): unknown[] {
  if (!isObj(value)) return [value];
  if (isObj(value.hits) && 'hits' in value.hits) {
    const hits = value.hits.hits;
    if (!Array.isArray(hits)) throw new ParseError('hits.hits must be an array', 'hits.hits');
    return hits.map((h, i) => {
      if (!isObj(h) || !isObj(h._source))
        throw new ParseError(`hits.hits[${i}]._source must be an object`, `hits.hits[${i}]._source`);
      return h._source;
    });
  }
  if (isObj(value._source) && typeof value._index === 'string') return [value._source];
  return [value];
}

/** Likelihood that a record is a Wazuh manager alert. */
export function sniffWazuh(value: unknown): number {
  if (!isObj(value)) return 0;
  if (isObj(value.hits) && Array.isArray(value.hits.hits)) {
    const first = value.hits.hits[0];
    return isObj(first) ? sniffWazuh(first._source) : 0;
  }
  const rule = value.rule;
  // A Wazuh alert always names the rule that fired and its level; nothing else we read does.
  if (!isObj(rule) || !('id' in rule) || !('level' in rule)) return 0;
  let score = 0.5;
  if (isObj(value.agent) && 'id' in value.agent) score += 0.2;
  if ('timestamp' in value) score += 0.1;
  if (isObj(value.decoder)) score += 0.1;
  if (isObj(value.manager)) score += 0.1;
  if (typeof value.location === 'string') score += 0.1;
  return Math.min(score, 1);
}

/** OCSF class of an alert, from its rule groups. */
export function classOfGroups(
  groups: ReadonlySet<string>,
  hasUrl: boolean,
): { classUid: number; status?: 'success' | 'failure' } {
  if ([...groups].some((g) => g === 'syscheck' || g.startsWith('syscheck_'))) return { classUid: 1001 };
  if (AUTH_FAILURE.some((g) => groups.has(g))) return { classUid: 3002, status: 'failure' };
  if (AUTH_SUCCESS.some((g) => groups.has(g))) return { classUid: 3002, status: 'success' };
  if (HTTP_GROUPS.some((g) => groups.has(g)) || (groups.has('attack') && hasUrl)) return { classUid: 4002 };
  return { classUid: 2004 };
}

/** `Credential Access` → `credential-access`, the ATT&CK short name used in tags. */
function tacticTag(name: string): string {
  return `attack.${name.trim().toLowerCase().replace(/\s+/g, '-')}`;
}

/**
 * Normalise one Wazuh alert. The rule that fired is the verdict (`finding`);
 * the class follows the rule groups; agent, decoded fields, Windows event
 * data, FIM, audit and AWS module fields fill the rest. Only the time and the
 * rule id and level are required; other fields that cannot be read are
 * listed in `unmapped.parse_warnings` instead of losing the alert.
 */
export function normaliseWazuh(record: unknown): EventDraft[] {
  const r = asObj(record);
  const rule = optObj(r, 'rule');
  if (!rule) throw new ParseError('rule is required', 'rule');
  const ruleId = reqStr(rule, 'id', 'rule.id');
  const level = optInt(rule, 'level', 'rule.level');
  if (level === undefined) throw new ParseError('rule.level is required', 'rule.level');
  if (level < 0 || level > WAZUH_MAX_LEVEL) {
    throw new ParseError(`rule.level must be 0–${WAZUH_MAX_LEVEL}, got ${level}`, 'rule.level');
  }
  const timeKey = r.timestamp !== undefined && r.timestamp !== null ? 'timestamp' : '@timestamp';
  const time = toIsoTime(r[timeKey], timeKey);
  const severity = wazuhSeverity(level);

  const rd = new Reader();
  const agent = rd.obj(r, 'agent', 'agent');
  const agentId = rd.str(agent, 'id', 'agent.id');
  const alertId = rd.str(r, 'id', 'id');
  const data = rd.obj(r, 'data', 'data') ?? {};
  const predecoder = rd.obj(r, 'predecoder', 'predecoder');
  const decoder = rd.obj(r, 'decoder', 'decoder');
  const groups = rd.strs(rule, 'groups', 'rule.groups');
  const groupSet = new Set(groups);
  const mitre = rd.obj(rule, 'mitre', 'rule.mitre');
  const techniques = [...new Set(rd.strs(mitre, 'id', 'rule.mitre.id').filter((t) => TECHNIQUE.test(t)))];
  const tactics = rd.strs(mitre, 'tactic', 'rule.mitre.tactic');
  const description = rd.str(rule, 'description', 'rule.description') ?? `Wazuh rule ${ruleId}`;
  const url = rd.str(data, 'url', 'data.url');
  const { classUid, status: authStatus } = classOfGroups(groupSet, present(url));

  // Parts of the alert that some decoders add, most specific first.
  const parts: Pieces[] = [];
  const win = rd.obj(data, 'win', 'data.win');
  if (win) parts.push(windowsPieces(win, classUid === 3002, rd));
  const syscheck = rd.obj(r, 'syscheck', 'syscheck');
  if (syscheck) parts.push(syscheckPieces(syscheck, rd));
  const audit = rd.obj(data, 'audit', 'data.audit');
  if (audit) parts.push(auditPieces(audit, rd));
  const aws = rd.obj(data, 'aws', 'data.aws');
  if (aws) parts.push(awsPieces(aws, rd));
  parts.push(decodedPieces(data, classUid, url, r, rd));
  const pick = <K extends keyof Pieces>(k: K): Pieces[K] => parts.find((p) => p[k] !== undefined)?.[k];

  const managerLocal = agentId === '000';
  const hostname = rd.str(predecoder, 'hostname', 'predecoder.hostname');
  const device = pruneOrUndefined({
    agent_uid: agentId,
    // Logs the manager receives by syslog name their real host in the predecoder.
    hostname: managerLocal && present(hostname) ? hostname : rd.str(agent, 'name', 'agent.name'),
    ip: ipOrUndefined(rd.str(agent, 'ip', 'agent.ip')),
    instance_uid: pick('instance'),
  });

  const user = pick('user');
  const process = pick('process');
  const file = pick('file');
  const src = pick('src');
  const dst = pick('dst');
  const obs = new Observables();
  obs.add('ip', src?.ip, 'src_endpoint.ip');
  obs.add('ip', dst?.ip, 'dst_endpoint.ip');
  obs.add('user', user?.name, 'actor.user.name');
  obs.add('access_key', user?.credential_uid, 'actor.user.credential_uid');
  obs.add('host', device?.hostname, 'device.hostname');
  obs.add('ip', device?.ip, 'device.ip');
  obs.add('instance', device?.instance_uid, 'device.instance_uid');
  obs.add('host', src?.hostname, 'src_endpoint.hostname');
  obs.add('host', dst?.hostname, 'dst_endpoint.hostname');
  obs.add('process', process?.path ?? process?.name, 'process.path');
  obs.add('file', file?.path, 'file.path');
  for (const [alg, digest] of Object.entries({ ...process?.hashes, ...file?.hashes })) {
    obs.add(
      'hash',
      digest,
      process?.hashes?.[alg] === digest ? `process.hashes.${alg}` : `file.hashes.${alg}`,
    );
  }
  obs.add('url', url, 'http.url');
  const cloud = pick('cloud');
  obs.add('account', cloud?.account_uid, 'cloud.account_uid');
  obs.add('user', rd.str(data, 'dstuser', 'data.dstuser'), 'unmapped.target_user');

  const compliance: Record<string, string[]> = {};
  for (const key of COMPLIANCE) {
    const values = rd.strs(rule, key, `rule.${key}`);
    if (values.length) compliance[key] = values;
  }
  const unmapped: Record<string, unknown> = Object.assign({}, ...parts.map((p) => p.unmapped ?? {}), {
    alert_id: alertId,
    manager: rd.str(rd.obj(r, 'manager', 'manager'), 'name', 'manager.name'),
    cluster: rd.str(rd.obj(r, 'cluster', 'cluster'), 'node', 'cluster.node'),
    decoder: pruneOrUndefined({
      name: rd.str(decoder, 'name', 'decoder.name'),
      parent: rd.str(decoder, 'parent', 'decoder.parent'),
    }),
    program_name: rd.str(predecoder, 'program_name', 'predecoder.program_name'),
    firedtimes: rd.int(rule, 'firedtimes', 'rule.firedtimes'),
    compliance: Object.keys(compliance).length ? compliance : undefined,
    mitre_techniques: rd.strs(mitre, 'technique', 'rule.mitre.technique'),
    system_name: rd.str(data, 'system_name', 'data.system_name'),
    data_id: classUid === 4002 ? undefined : rd.str(data, 'id', 'data.id'),
  });
  if (rd.warnings.length) unmapped.parse_warnings = rd.warnings;

  const fullLog = rd.str(r, 'full_log', 'full_log');
  const draft: EventDraft = {
    ...ocsfClass(classUid),
    // The alert id is unique per manager alerts file; the agent id keeps alerts of a cluster apart.
    source_event_id: alertId ? (agentId ? `${alertId}:${agentId}` : alertId) : undefined,
    time,
    activity_name: pick('activity'),
    severity_id: ocsfFromSeverity(severity),
    status: authStatus ?? pick('status') ?? 'unknown',
    status_detail: rd.str(data, 'status', 'data.status'),
    message: fullLog ?? pick('message') ?? description,
    actor: user ? { user } : undefined,
    src_endpoint: src,
    dst_endpoint: dst,
    device,
    process,
    file,
    cloud,
    network: pick('network'),
    http: pick('http'),
    finding: {
      uid: ruleId,
      title: description,
      product: 'Wazuh',
      severity,
      level,
      tags: [...new Set([...groups, ...tactics.map(tacticTag)])],
      techniques,
    },
    observables: obs.list(),
    metadata: prune({
      product: 'Wazuh',
      vendor: 'Wazuh',
      log_name: pick('logName') ?? rd.str(r, 'location', 'location'),
      event_code: pick('eventCode'),
    }),
    unmapped: pruneOrUndefined(unmapped),
    raw: undefined,
  };
  // Pruned before the original is attached: `raw` must stay exactly as received.
  return [{ ...prune(draft), raw: record }];
}

const METHOD = /"(GET|POST|PUT|DELETE|HEAD|OPTIONS|PATCH|CONNECT|TRACE|PROPFIND) /;
const HTTP_METHOD = /^(GET|POST|PUT|DELETE|HEAD|OPTIONS|PATCH|CONNECT|TRACE|PROPFIND)$/i;

/**
 * Wazuh's static decoded fields (`data.srcip`, `data.dstuser`, …), the
 * fallback for every piece the specific parts did not fill.
 */
function decodedPieces(data: Obj, classUid: number, url: string | undefined, r: Obj, rd: Reader): Pieces {
  const s = (key: string) => rd.str(data, key, `data.${key}`);
  // Static decoder fields first, then the names JSON-decoded sources use (Suricata EVE: src_ip, dest_ip).
  const srcip = s('srcip') ?? s('src_ip');
  const dstip = s('dstip') ?? s('dest_ip');
  const srcuser = s('srcuser');
  const dstuser = s('dstuser') ?? s('user');
  const code = classUid === 4002 ? rd.int(data, 'id', 'data.id') : undefined;
  // Wazuh's web access-log decoder stores the HTTP method in `protocol`.
  const protocol = s('protocol') ?? s('proto');
  const method = protocol && HTTP_METHOD.test(protocol) ? protocol.toUpperCase() : undefined;
  const fullLog = typeof r.full_log === 'string' ? r.full_log : '';
  return {
    // The one who acted: the source user where the decoder tells one apart (sudo, su), else the account used.
    user: pruneOrUndefined({ name: present(srcuser) ? srcuser : present(dstuser) ? dstuser : undefined }),
    src: pruneOrUndefined({
      ip: ipOrUndefined(srcip),
      hostname: present(srcip) && !ipOrUndefined(srcip) ? srcip : undefined,
      port: rd.port(data, 'srcport', 'data.srcport') ?? rd.port(data, 'src_port', 'data.src_port'),
    }),
    dst: pruneOrUndefined({
      ip: ipOrUndefined(dstip),
      hostname: present(dstip) && !ipOrUndefined(dstip) ? dstip : undefined,
      port: rd.port(data, 'dstport', 'data.dstport') ?? rd.port(data, 'dest_port', 'data.dest_port'),
    }),
    network: pruneOrUndefined({
      protocol: method ? undefined : protocol?.toLowerCase(),
      app_protocol: s('app_proto')?.toLowerCase(),
      flow_uid: s('flow_id'),
    }),
    http:
      classUid === 4002 || present(url)
        ? pruneOrUndefined({
            url,
            method: method ?? METHOD.exec(fullLog)?.[1],
            status_code: code !== undefined && code >= 100 && code <= 599 ? code : undefined,
          })
        : undefined,
    activity: s('action'),
    unmapped: pruneOrUndefined({
      target_user: present(srcuser) && present(dstuser) && srcuser !== dstuser ? dstuser : undefined,
      extra_data: s('extra_data'),
      signature: rd.str(rd.obj(data, 'alert', 'data.alert'), 'signature', 'data.alert.signature'),
      signature_id: rd.str(rd.obj(data, 'alert', 'data.alert'), 'signature_id', 'data.alert.signature_id'),
    }),
  };
}
