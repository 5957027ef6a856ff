import type { SeverityName } from '../../schema/common.ts';
import type { UpstreamFinding } from '../../schema/event.ts';

/**
 * Zeek notices carry no severity of their own, so the source assigns one
 * per notice type. The reasoning:
 * - `critical`: a notice that reports a successful exploitation
 *   (Heartbleed heartbeat attack that succeeded).
 * - `high`: attacks that work against exposed services or credentials
 *   (SQL injection attackers and victims, logins by a password guesser,
 *   intelligence hits, known-malware hash matches).
 * - `medium`: reconnaissance and brute force in progress (scans, password
 *   guessing), vulnerable software — and any notice type not listed here,
 *   since a script author raised it for a reason.
 * - `low`: hygiene and protocol oddities (invalid or expired certificates,
 *   weak TLS, weird activity, DNS names pointing outside).
 * - `informational`: sensor health and inventory (capture loss, packet
 *   filter, software version changes, protocol found on a port).
 * Operators override any entry with `notice_severity` in the config.
 */
export const NOTICE_SEVERITY: Readonly<Record<string, SeverityName>> = {
  'Heartbleed::SSL_Heartbeat_Attack_Success': 'critical',
  'Heartbleed::SSL_Heartbeat_Attack': 'high',
  'Heartbleed::SSL_Heartbeat_Odd_Length': 'medium',
  'Heartbleed::SSL_Heartbeat_Many_Requests': 'medium',
  'HTTP::SQL_Injection_Attacker': 'high',
  'HTTP::SQL_Injection_Victim': 'high',
  'SSH::Login_By_Password_Guesser': 'high',
  'Intel::Notice': 'high',
  'TeamCymruMalwareHashRegistry::Match': 'high',
  'Signatures::Sensitive_Signature': 'high',
  'Signatures::Multiple_Signatures': 'high',
  'Scan::Port_Scan': 'medium',
  'Scan::Address_Scan': 'medium',
  'SSH::Password_Guessing': 'medium',
  'FTP::Bruteforcing': 'medium',
  'Software::Vulnerable_Version': 'medium',
  'SMTP::Blocklist_Blocked_Host': 'low',
  'SMTP::Blocklist_Error_Message': 'low',
  'SSL::Invalid_Server_Cert': 'low',
  'SSL::Invalid_Ocsp_Response': 'low',
  'SSL::Certificate_Expired': 'low',
  'SSL::Certificate_Not_Valid_Yet': 'low',
  'SSL::Weak_Key': 'low',
  'SSL::Old_Version': 'low',
  'SSL::Weak_Cipher': 'low',
  'Weird::Activity': 'low',
  'DNS::External_Name': 'low',
  'Conn::Retransmission_Inconsistency': 'low',
  'Conn::Content_Gap': 'low',
  'Traceroute::Detected': 'low',
  'SSL::Certificate_Expires_Soon': 'informational',
  'CaptureLoss::Too_Much_Loss': 'informational',
  'CaptureLoss::Too_Little_Traffic': 'informational',
  'PacketFilter::Dropped_Packets': 'informational',
  'PacketFilter::Install_Failure': 'informational',
  'PacketFilter::Too_Long_To_Compile_Filter': 'informational',
  'Software::Software_Version_Change': 'informational',
  'ProtocolDetector::Protocol_Found': 'informational',
  'ProtocolDetector::Server_Found': 'informational',
  'Notice::Tally': 'informational',
};

/** ATT&CK techniques the notice types of Zeek's own scripts detect. */
export const NOTICE_TECHNIQUES: Readonly<Record<string, readonly string[]>> = {
  'Scan::Port_Scan': ['T1046'],
  'Scan::Address_Scan': ['T1046'],
  'SSH::Password_Guessing': ['T1110'],
  'SSH::Login_By_Password_Guesser': ['T1110', 'T1078'],
  'FTP::Bruteforcing': ['T1110'],
  'HTTP::SQL_Injection_Attacker': ['T1190'],
  'HTTP::SQL_Injection_Victim': ['T1190'],
  'Heartbleed::SSL_Heartbeat_Attack': ['T1190'],
  'Heartbleed::SSL_Heartbeat_Attack_Success': ['T1190'],
  'Traceroute::Detected': ['T1590'],
};

export interface NoticeOptions {
  overrides: Readonly<Record<string, SeverityName>>;
  fallback: SeverityName;
}

/**
 * The finding a Zeek notice is: uid and title from the notice type and
 * message, severity from the table above (or the configuration).
 *
 * @example noticeFinding('Scan::Port_Scan', '10.0.0.9 scanned 50 ports', { overrides: {}, fallback: 'medium' }).techniques // ['T1046']
 */
export function noticeFinding(
  note: string,
  msg: string | undefined,
  options: NoticeOptions,
  actions: string[] = [],
): UpstreamFinding {
  const severity = options.overrides[note] ?? NOTICE_SEVERITY[note] ?? options.fallback;
  const tags = [`zeek.note:${note}`];
  for (const a of actions) tags.push(`zeek.action:${a}`);
  return {
    uid: note,
    title: msg ? `${note}: ${msg}` : note,
    product: 'Zeek',
    severity,
    tags,
    techniques: [...(NOTICE_TECHNIQUES[note] ?? [])],
  };
}
