import type { OcsfSeverityId } from '../../schema/common.ts';

/** Facility names by code (RFC 5424 table 1; 13–15 as Linux and BSD name them). */
export const FACILITY_NAMES: readonly string[] = [
  'kern',
  'user',
  'mail',
  'daemon',
  'auth',
  'syslog',
  'lpr',
  'news',
  'uucp',
  'cron',
  'authpriv',
  'ftp',
  'ntp',
  'security',
  'console',
  'solaris-cron',
  'local0',
  'local1',
  'local2',
  'local3',
  'local4',
  'local5',
  'local6',
  'local7',
];

/** Severity names by code (RFC 5424 table 2), as syslog.conf spells them. */
export const SEVERITY_NAMES: readonly string[] = [
  'emerg',
  'alert',
  'crit',
  'err',
  'warning',
  'notice',
  'info',
  'debug',
];

/**
 * Syslog severity (0 Emergency … 7 Debug) → OCSF `severity_id`. Syslog has
 * eight levels and OCSF six, so the ends fold: Emergency is Fatal, Alert and
 * Critical are Critical, Error is High, Warning Medium, Notice Low, and
 * Informational and Debug are Informational.
 */
export const OCSF_SEVERITY_OF_SYSLOG: readonly OcsfSeverityId[] = [6, 5, 5, 4, 3, 2, 1, 1];

export interface Priority {
  /** The PRI value, 0–191. */
  pri: number;
  facility: number;
  severity: number;
  facility_name: string;
  severity_name: string;
}

/**
 * Decode a PRI value into facility and severity.
 *
 * @example decodePri(38) // { pri: 38, facility: 4, facility_name: 'auth', severity: 6, severity_name: 'info' }
 */
export function decodePri(pri: number): Priority {
  const facility = Math.floor(pri / 8);
  const severity = pri % 8;
  return {
    pri,
    facility,
    severity,
    facility_name: FACILITY_NAMES[facility] ?? `facility${facility}`,
    severity_name: SEVERITY_NAMES[severity]!,
  };
}

/** Priority from the `facility.level` names Solaris puts in `[ID n auth.notice]`; undefined for unknown names. */
export function priorityFromNames(facility: string, level: string): Priority | undefined {
  const f = FACILITY_NAMES.indexOf(facility.toLowerCase());
  const aliases: Record<string, string> = {
    error: 'err',
    warn: 'warning',
    panic: 'emerg',
    emergency: 'emerg',
  };
  const l = SEVERITY_NAMES.indexOf(aliases[level.toLowerCase()] ?? level.toLowerCase());
  if (f < 0 || l < 0) return undefined;
  return decodePri(f * 8 + l);
}
