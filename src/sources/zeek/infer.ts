import type { Obj } from '../fields.ts';

/** Fields that identify one log type; the first rule that holds wins, so specific rules come first. */
const RULES: Array<[string, (r: Obj) => boolean]> = [
  ['notice', (r) => has(r, 'note') && (has(r, 'msg') || has(r, 'actions'))],
  ['conn', (r) => has(r, 'conn_state') || (has(r, 'proto') && (has(r, 'orig_bytes') || has(r, 'history')))],
  ['dns', (r) => has(r, 'qtype_name') || has(r, 'rcode_name') || (has(r, 'query') && has(r, 'trans_id'))],
  ['http', (r) => has(r, 'uri') || (has(r, 'method') && (has(r, 'host') || has(r, 'user_agent')))],
  [
    'ssl',
    (r) =>
      has(r, 'ssl_history') ||
      has(r, 'cert_chain_fps') ||
      has(r, 'cert_chain_fuids') ||
      (has(r, 'version') && (has(r, 'cipher') || has(r, 'server_name'))),
  ],
  [
    'ssh',
    (r) => has(r, 'auth_success') || has(r, 'auth_attempts') || has(r, 'host_key_alg') || has(r, 'kex_alg'),
  ],
  ['x509', (r) => has(r, 'certificate.subject') || has(r, 'certificate.serial') || isObj(r.certificate)],
  ['smb_files', (r) => typeof r.action === 'string' && r.action.startsWith('SMB::')],
  ['smb_mapping', (r) => has(r, 'share_type') || has(r, 'native_file_system')],
  ['kerberos', (r) => has(r, 'request_type') && (has(r, 'client') || has(r, 'service'))],
  [
    'ntlm',
    (r) =>
      has(r, 'server_nb_computer_name') ||
      has(r, 'server_dns_computer_name') ||
      (has(r, 'username') && has(r, 'domainname')),
  ],
  [
    'rdp',
    (r) =>
      has(r, 'security_protocol') ||
      has(r, 'client_build') ||
      has(r, 'keyboard_layout') ||
      has(r, 'cookie') ||
      (has(r, 'cert_count') && has(r, 'result')),
  ],
  ['weird', (r) => has(r, 'name') && typeof r.notice === 'boolean'],
  [
    'files',
    (r) =>
      has(r, 'fuid') &&
      (has(r, 'seen_bytes') || has(r, 'total_bytes') || has(r, 'analyzers') || has(r, 'mime_type')),
  ],
  ['dce_rpc', (r) => has(r, 'endpoint') && has(r, 'operation')],
  ['dhcp', (r) => has(r, 'assigned_addr') || has(r, 'msg_types') || has(r, 'lease_time')],
  ['ftp', (r) => has(r, 'reply_code') && has(r, 'command')],
  ['smtp', (r) => has(r, 'helo') || has(r, 'mailfrom') || has(r, 'rcptto')],
  ['snmp', (r) => has(r, 'community') && has(r, 'get_requests')],
  ['ntp', (r) => has(r, 'stratum') && has(r, 'ref_id')],
  ['modbus', (r) => has(r, 'func') && has(r, 'unit')],
  ['rfb', (r) => has(r, 'authentication_method') || has(r, 'client_major_version')],
  ['ocsp', (r) => has(r, 'certStatus')],
  ['pe', (r) => has(r, 'is_exe') || (has(r, 'machine') && has(r, 'subsystem'))],
  ['software', (r) => has(r, 'software_type')],
  ['known_services', (r) => has(r, 'port_num') && has(r, 'port_proto')],
  ['known_certs', (r) => has(r, 'port_num') && has(r, 'issuer_subject')],
  ['capture_loss', (r) => has(r, 'percent_lost')],
  ['stats', (r) => has(r, 'pkts_proc') || has(r, 'events_proc')],
  ['analyzer', (r) => has(r, 'analyzer_kind') || (has(r, 'cause') && has(r, 'analyzer_name'))],
  ['dpd', (r) => has(r, 'analyzer') && has(r, 'failure_reason')],
  ['packet_filter', (r) => has(r, 'filter') && has(r, 'init')],
  ['ldap_search', (r) => has(r, 'filter') && has(r, 'scope')],
  ['syslog', (r) => has(r, 'facility') && has(r, 'severity') && has(r, 'message')],
  ['reporter', (r) => has(r, 'level') && has(r, 'location') && has(r, 'message')],
  ['tunnel', (r) => has(r, 'tunnel_type')],
  ['known_hosts', (r) => has(r, 'host') && onlyKeys(r, KNOWN_HOSTS_KEYS)],
  ['loaded_scripts', (r) => has(r, 'name') && onlyKeys(r, LOADED_SCRIPTS_KEYS)],
];

const KNOWN_HOSTS_KEYS = new Set(['ts', 'host', '_path', '_write_ts', '_node']);
const LOADED_SCRIPTS_KEYS = new Set(['name', '_path', '_write_ts', '_node']);

function has(r: Obj, key: string): boolean {
  return r[key] !== undefined;
}

function isObj(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyKeys(r: Obj, keys: ReadonlySet<string>): boolean {
  for (const k in r) if (!keys.has(k)) return false;
  return true;
}

/**
 * The Zeek log a record comes from: its `_path` (JSON) or `#path` (TSV,
 * copied into `_path` by the framer) when present, otherwise inferred from
 * the fields only that log has. Undefined when nothing identifies it.
 *
 * @example inferZeekLog({ ts: 1, uid: 'C1', proto: 'tcp', conn_state: 'SF' }) // 'conn'
 * @example inferZeekLog({ ts: 1, uid: 'C1', query: 'example.com', qtype_name: 'A' }) // 'dns'
 */
export function inferZeekLog(record: Obj): string | undefined {
  const path = record._path;
  if (typeof path === 'string' && path !== '') return path;
  for (const [log, test] of RULES) if (test(record)) return log;
  return undefined;
}
