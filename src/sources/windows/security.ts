import type { EventDraft } from '../../schema/event.ts';
import type { WinDraft } from './draft.ts';
import { protocolOf } from './values.ts';

type Status = NonNullable<EventDraft['status']>;

/** Windows event ids outside Sysmon → name and OCSF class, keyed `<id>` (Security) or `<channel>:<id>`. */
export const WINDOWS_EVENTS: Readonly<Record<string, { name: string; class: number }>> = {
  '1102': { name: 'The audit log was cleared', class: 1008 },
  '4624': { name: 'An account was successfully logged on', class: 3002 },
  '4625': { name: 'An account failed to log on', class: 3002 },
  '4634': { name: 'An account was logged off', class: 3002 },
  '4647': { name: 'User initiated logoff', class: 3002 },
  '4648': { name: 'A logon was attempted using explicit credentials', class: 3002 },
  '4672': { name: 'Special privileges assigned to new logon', class: 3003 },
  '4768': { name: 'A Kerberos authentication ticket (TGT) was requested', class: 3002 },
  '4769': { name: 'A Kerberos service ticket was requested', class: 3002 },
  '4771': { name: 'Kerberos pre-authentication failed', class: 3002 },
  '4776': { name: 'The computer attempted to validate the credentials for an account', class: 3002 },
  '4688': { name: 'A new process has been created', class: 1007 },
  '4689': { name: 'A process has exited', class: 1007 },
  '4697': { name: 'A service was installed in the system', class: 6002 },
  '4698': { name: 'A scheduled task was created', class: 1006 },
  '4699': { name: 'A scheduled task was deleted', class: 1006 },
  '4700': { name: 'A scheduled task was enabled', class: 1006 },
  '4701': { name: 'A scheduled task was disabled', class: 1006 },
  '4702': { name: 'A scheduled task was updated', class: 1006 },
  '4720': { name: 'A user account was created', class: 3001 },
  '4722': { name: 'A user account was enabled', class: 3001 },
  '4723': { name: "An attempt was made to change an account's password", class: 3001 },
  '4724': { name: "An attempt was made to reset an account's password", class: 3001 },
  '4725': { name: 'A user account was disabled', class: 3001 },
  '4726': { name: 'A user account was deleted', class: 3001 },
  '4738': { name: 'A user account was changed', class: 3001 },
  '4740': { name: 'A user account was locked out', class: 3001 },
  '4767': { name: 'A user account was unlocked', class: 3001 },
  '4781': { name: 'The name of an account was changed', class: 3001 },
  '4728': { name: 'A member was added to a security-enabled global group', class: 3006 },
  '4729': { name: 'A member was removed from a security-enabled global group', class: 3006 },
  '4732': { name: 'A member was added to a security-enabled local group', class: 3006 },
  '4733': { name: 'A member was removed from a security-enabled local group', class: 3006 },
  '4756': { name: 'A member was added to a security-enabled universal group', class: 3006 },
  '4757': { name: 'A member was removed from a security-enabled universal group', class: 3006 },
  '4656': { name: 'A handle to an object was requested', class: 1001 },
  '4663': { name: 'An attempt was made to access an object', class: 1001 },
  '4657': { name: 'A registry value was modified', class: 201001 },
  '5140': { name: 'A network share object was accessed', class: 4006 },
  '5145': {
    name: 'A network share object was checked to see whether client can be granted desired access',
    class: 4006,
  },
  '5156': { name: 'The Windows Filtering Platform has permitted a connection', class: 4001 },
  '5157': { name: 'The Windows Filtering Platform has blocked a connection', class: 4001 },
  'System:7045': { name: 'A service was installed in the system', class: 6002 },
  'System:104': { name: 'The System log file was cleared', class: 1008 },
  'Microsoft-Windows-PowerShell/Operational:4104': { name: 'PowerShell script block', class: 0 },
  'Microsoft-Windows-PowerShell/Operational:4103': { name: 'PowerShell pipeline execution', class: 0 },
  'Microsoft-Windows-TaskScheduler/Operational:106': { name: 'Task registered', class: 1006 },
  'Microsoft-Windows-TaskScheduler/Operational:141': { name: 'Task registration deleted', class: 1006 },
  'Microsoft-Windows-TaskScheduler/Operational:200': { name: 'Action started', class: 1006 },
};

export interface WindowsEventInfo {
  readonly key: string;
  readonly name: string;
  readonly class: number;
}

/**
 * WINDOWS_EVENTS as lookups by channel then id, built once: the entry of an
 * event is found without building its key string or a new object per event.
 */
const SECURITY_INFO = new Map<number, WindowsEventInfo>();
const CHANNEL_INFO = new Map<string, Map<number, WindowsEventInfo>>();
for (const [key, e] of Object.entries(WINDOWS_EVENTS)) {
  const colon = key.lastIndexOf(':');
  const info: WindowsEventInfo = { key, ...e };
  if (colon < 0) {
    SECURITY_INFO.set(Number(key), info);
    continue;
  }
  const channel = key.slice(0, colon);
  let byId = CHANNEL_INFO.get(channel);
  if (!byId) {
    byId = new Map();
    CHANNEL_INFO.set(channel, byId);
  }
  byId.set(Number(key.slice(colon + 1)), info);
}

/**
 * The table entry of a non-Sysmon event: Security ids are matched on the
 * channel `Security` (any case). The entry is shared: do not modify it.
 */
export function windowsEventInfo(channel: string | undefined, eventId: number): WindowsEventInfo | undefined {
  const ch = channel ?? '';
  if (ch === 'Security' || ch.toLowerCase() === 'security') return SECURITY_INFO.get(eventId);
  return CHANNEL_INFO.get(ch)?.get(eventId);
}

/** Logon type numbers (4624/4625 `LogonType`) → names. */
export const LOGON_TYPES: Readonly<Record<string, string>> = {
  '0': 'System',
  '2': 'Interactive',
  '3': 'Network',
  '4': 'Batch',
  '5': 'Service',
  '7': 'Unlock',
  '8': 'NetworkCleartext',
  '9': 'NewCredentials',
  '10': 'RemoteInteractive',
  '11': 'CachedInteractive',
  '12': 'CachedRemoteInteractive',
  '13': 'CachedUnlock',
};

function subject(d: WinDraft): void {
  d.actorFrom(undefined, 'SubjectUserName', 'SubjectDomainName', 'SubjectUserSid');
}

function target(d: WinDraft): void {
  d.actorFrom(undefined, 'TargetUserName', 'TargetDomainName', 'TargetUserSid');
}

/** NTSTATUS codes of failed logons (4625 Status/SubStatus, 4776 Status). */
export const LOGON_FAILURES: Readonly<Record<string, string>> = {
  '0xc0000064': 'User name does not exist',
  '0xc000006a': 'Wrong password',
  '0xc000006d': 'Bad user name or password',
  '0xc000006e': 'Account restriction',
  '0xc000006f': 'Logon outside allowed hours',
  '0xc0000070': 'Logon from an unauthorised workstation',
  '0xc0000071': 'Password expired',
  '0xc0000072': 'Account disabled',
  '0xc000010b': 'Logon type not allowed',
  '0xc0000133': 'Clocks out of sync',
  '0xc000015b': 'Logon type not granted',
  '0xc0000192': 'Netlogon service not started',
  '0xc0000193': 'Account expired',
  '0xc0000224': 'Password must change at next logon',
  '0xc0000234': 'Account locked out',
  '0xc0000413': 'Authentication firewall: not allowed',
};

/** The most specific failure of a logon: SubStatus unless it is 0x0, else Status, as `Reason (0xC000006A)`. */
export function failureDetail(subStatus: string | undefined, status: string | undefined): string | undefined {
  for (const code of [subStatus, status]) {
    if (!code || /^0x0+$/i.test(code)) continue;
    const reason = LOGON_FAILURES[code.toLowerCase()];
    return reason ? `${reason} (${code.toUpperCase().replace('0X', '0x')})` : code;
  }
  return undefined;
}

/** Kerberos and NTLM result codes: `0x0` is success, anything else a failure. */
function resultStatus(code: string | undefined): Status | undefined {
  if (code === undefined) return undefined;
  return /^0x0+$|^0$/i.test(code) ? 'success' : 'failure';
}

/** Fill a draft from a Security, System, PowerShell or Task Scheduler event it knows. */
export function mapWindowsEvent(d: WinDraft, key: string): void {
  switch (key) {
    case '4624':
    case '4625': {
      target(d);
      d.endpoint('src_endpoint', { ip: 'IpAddress', port: 'IpPort', host: 'WorkstationName' });
      d.setProcess(d.processFrom({ path: 'ProcessName', pid: 'ProcessId' }));
      const type = d.str('LogonType');
      const typeName = type ? LOGON_TYPES[type] : undefined;
      if (key === '4625') {
        d.draft.status = 'failure';
        const why = failureDetail(d.str('SubStatus'), d.str('Status')) ?? d.str('FailureReason');
        if (why) d.draft.status_detail = why;
      } else {
        d.draft.status = 'success';
        if (type) d.draft.status_detail = `Logon type ${type}${typeName ? ` (${typeName})` : ''}`;
      }
      d.draft.activity_name = key === '4624' ? 'Logon' : 'Logon failed';
      break;
    }
    case '4634':
    case '4647':
      target(d);
      d.draft.activity_name = 'Logoff';
      break;
    case '4648':
      subject(d);
      d.endpoint('dst_endpoint', { host: 'TargetServerName' });
      d.endpoint('src_endpoint', { ip: 'IpAddress', port: 'IpPort' });
      d.setProcess(d.processFrom({ path: 'ProcessName', pid: 'ProcessId' }));
      d.observe('user', d.str('TargetUserName'), 'unmapped.TargetUserName');
      break;
    case '4672':
      subject(d);
      break;
    case '4768':
    case '4769':
    case '4771':
      target(d);
      d.endpoint('src_endpoint', { ip: 'IpAddress', port: 'IpPort' });
      if (resultStatus(d.str('Status'))) d.draft.status = resultStatus(d.str('Status'))!;
      break;
    case '4776': {
      d.actorFrom(undefined, 'TargetUserName');
      d.endpoint('src_endpoint', { host: 'Workstation' });
      const status = resultStatus(d.str('Status'));
      if (status) d.draft.status = status;
      if (status === 'failure') d.draft.status_detail = failureDetail(undefined, d.str('Status'));
      break;
    }
    case '4688': {
      // The new process runs as TargetUserName when it is set (Windows 10+), else as the subject.
      if (d.str('TargetUserName')) target(d);
      else subject(d);
      const p = d.processFrom({
        path: 'NewProcessName',
        cmd: 'CommandLine',
        pid: 'NewProcessId',
        integrity: 'MandatoryLabel',
      });
      const parent = d.processFrom({ path: 'ParentProcessName', pid: 'ProcessId' });
      if (p && parent) p.parent = parent;
      d.setProcess(p);
      if (parent?.path) d.observe('process', parent.path, 'process.parent.path');
      break;
    }
    case '4689':
      subject(d);
      d.setProcess(d.processFrom({ path: 'ProcessName', pid: 'ProcessId' }));
      break;
    case '4697':
    case 'System:7045': {
      // 4697 names the installing account; 7045 does not (its AccountName is the service's account).
      subject(d);
      const image = d.str('ServiceFileName') ?? d.str('ImagePath');
      if (image) {
        d.draft.process = { cmd_line: image };
        d.observe('process', image, 'process.cmd_line');
      }
      d.draft.activity_name = 'Service installed';
      break;
    }
    case '4698':
    case '4699':
    case '4700':
    case '4701':
    case '4702':
      subject(d);
      break;
    case '4720':
    case '4722':
    case '4723':
    case '4724':
    case '4725':
    case '4726':
    case '4738':
    case '4740':
    case '4767':
    case '4781':
      subject(d);
      // OCSF's Account Change has a target `user` our schema lacks: the account acted on is an observable.
      d.observe('user', d.str('TargetUserName'), 'unmapped.TargetUserName');
      break;
    case '4728':
    case '4729':
    case '4732':
    case '4733':
    case '4756':
    case '4757':
      subject(d);
      d.observe('user', d.str('MemberName'), 'unmapped.MemberName');
      break;
    case '4656':
    case '4663':
      subject(d);
      d.setProcess(d.processFrom({ path: 'ProcessName', pid: 'ProcessId' }));
      if (/^key$/i.test(d.str('ObjectType') ?? '')) d.setClass(201001);
      else if (/^file$/i.test(d.str('ObjectType') ?? '')) d.file('ObjectName');
      else d.setClass(0);
      break;
    case '4657':
      subject(d);
      d.setProcess(d.processFrom({ path: 'ProcessName', pid: 'ProcessId' }));
      break;
    case '5140':
    case '5145':
      subject(d);
      d.endpoint('src_endpoint', { ip: 'IpAddress', port: 'IpPort' });
      break;
    case '5156':
    case '5157': {
      // Direction %%14592 is inbound, %%14593 outbound; for inbound the "source" fields are the local side.
      const inbound = d.str('Direction') === '%%14592';
      d.setProcess(d.processFrom({ path: 'Application', pid: 'ProcessId' }));
      d.endpoint(inbound ? 'dst_endpoint' : 'src_endpoint', { ip: 'SourceAddress', port: 'SourcePort' });
      d.endpoint(inbound ? 'src_endpoint' : 'dst_endpoint', { ip: 'DestAddress', port: 'DestPort' });
      d.draft.network = { direction: inbound ? 'inbound' : 'outbound' };
      const protocol = protocolOf(d.data.Protocol);
      if (protocol) d.draft.network.protocol = protocol;
      d.draft.status = key === '5156' ? 'success' : 'failure';
      break;
    }
    case '1102':
    case 'System:104':
      // The account that cleared the log is in UserData (LogFileCleared), read into the data fields.
      subject(d);
      break;
    case 'Microsoft-Windows-TaskScheduler/Operational:106':
    case 'Microsoft-Windows-TaskScheduler/Operational:141':
      d.actorFrom('UserContext');
      if (!d.draft.actor?.user) d.actorFrom('UserName');
      break;
    default:
      break;
  }
}
