import type { Obj } from '../fields.ts';
import { baseName, ipOrUndefined, present, pruneOrUndefined } from '../guardduty/draft.ts';
import type { Pieces, Reader, User } from './reader.ts';

/** Sysmon's `Hashes` value (`SHA1=…,MD5=…,SHA256=…`) as algorithm → digest. */
export function parseHashes(v: string | undefined): Record<string, string> | undefined {
  if (!v) return undefined;
  const out: Record<string, string> = {};
  for (const part of v.split(',')) {
    const m = /^\s*([A-Za-z0-9]+)=([0-9A-Fa-f]+)\s*$/.exec(part);
    if (m) out[m[1]!.toLowerCase()] = m[2]!.toLowerCase();
  }
  return Object.keys(out).length ? out : undefined;
}

/**
 * Undo the backslash doubling of Wazuh's eventchannel decoder: once the JSON
 * is parsed, a value holds two backslashes where Windows wrote one
 * (C:\\Windows\\System32 for C:\Windows\System32). Only values whose every
 * run of backslashes has even length were doubled; a value with an odd run
 * is left as it is.
 */
export function undoubleBackslashes(v: string | undefined): string | undefined {
  if (v === undefined || !v.includes('\\\\')) return v;
  const runs = v.match(/\\+/g) ?? [];
  if (runs.some((r) => r.length % 2 !== 0)) return v;
  return v.replace(/\\+/g, (r) => '\\'.repeat(r.length / 2));
}

/** Security-log events about a logon (success, failure, explicit credentials, Kerberos, NTLM). */
const LOGON_EVENTS = new Set([
  '528',
  '529',
  '540',
  '4624',
  '4625',
  '4634',
  '4647',
  '4648',
  '4768',
  '4769',
  '4771',
  '4776',
]);

function nonZero(n: number | undefined): number | undefined {
  return n === 0 ? undefined : n;
}

/** `DOMAIN\user` split into its parts. */
function splitAccount(v: string | undefined): { name?: string; domain?: string } {
  if (!present(v)) return {};
  const i = v.indexOf('\\');
  return i > 0 ? { domain: v.slice(0, i), name: v.slice(i + 1) } : { name: v };
}

/**
 * What a Windows eventchannel alert (`data.win.system`, `data.win.eventdata`)
 * adds: the user (the account logging on for authentication events, else the
 * subject that acted), the process (Sysmon, 4688), files, network endpoints.
 */
export function windowsPieces(win: Obj, authentication: boolean, rd: Reader): Pieces {
  const f = 'data.win';
  const sys = rd.obj(win, 'system', `${f}.system`);
  const ed = rd.obj(win, 'eventdata', `${f}.eventdata`);
  const eventId = rd.str(sys, 'eventID', `${f}.system.eventID`);
  // In logon events the subject is the service that processed the logon; the target is who logged on.
  const logon = authentication || (eventId !== undefined && LOGON_EVENTS.has(eventId));
  const s = (key: string) => undoubleBackslashes(rd.str(ed, key, `${f}.eventdata.${key}`));

  const target: User = {
    name: present(s('targetUserName')) ? s('targetUserName') : undefined,
    domain: present(s('targetDomainName')) ? s('targetDomainName') : undefined,
    uid: present(s('targetUserSid'))
      ? s('targetUserSid')
      : present(s('targetSid'))
        ? s('targetSid')
        : undefined,
  };
  const subject: User = {
    name: present(s('subjectUserName')) ? s('subjectUserName') : undefined,
    domain: present(s('subjectDomainName')) ? s('subjectDomainName') : undefined,
    uid: present(s('subjectUserSid')) ? s('subjectUserSid') : undefined,
  };
  const sysmonUser = splitAccount(s('user'));
  const chosen = logon ? (target.name ? target : subject) : subject.name ? subject : target;
  const user = pruneOrUndefined(chosen.name ? chosen : { name: sysmonUser.name, domain: sysmonUser.domain });

  const image = s('image') ?? s('newProcessName') ?? s('processName');
  const parentImage = s('parentImage') ?? s('parentProcessName');
  const process = pruneOrUndefined({
    path: present(image) ? image : undefined,
    name: present(image) ? baseName(image) : undefined,
    cmd_line: s('commandLine'),
    // Windows writes 0x0 when no process is involved (network logons).
    pid: nonZero(
      rd.int(ed, 'processId', `${f}.eventdata.processId`) ??
        rd.int(ed, 'newProcessId', `${f}.eventdata.newProcessId`),
    ),
    uid: s('processGuid'),
    user: s('user'),
    integrity: s('integrityLevel'),
    hashes: parseHashes(s('hashes')),
    parent: pruneOrUndefined({
      path: present(parentImage) ? parentImage : undefined,
      name: present(parentImage) ? baseName(parentImage) : undefined,
      cmd_line: s('parentCommandLine'),
      pid: rd.int(ed, 'parentProcessId', `${f}.eventdata.parentProcessId`),
      uid: s('parentProcessGuid'),
    }),
  });

  const targetFile = s('targetFilename');
  const src = pruneOrUndefined({
    ip: ipOrUndefined(s('ipAddress') ?? s('sourceIp')),
    port:
      rd.port(ed, 'ipPort', `${f}.eventdata.ipPort`) ||
      rd.port(ed, 'sourcePort', `${f}.eventdata.sourcePort`),
    hostname: present(s('workstationName')) ? s('workstationName') : s('sourceHostname'),
  });
  const dst = pruneOrUndefined({
    ip: ipOrUndefined(s('destinationIp')),
    port: rd.port(ed, 'destinationPort', `${f}.eventdata.destinationPort`),
    hostname: s('destinationHostname'),
  });
  const message = rd.str(sys, 'message', `${f}.system.message`);
  return {
    user,
    process,
    file: present(targetFile) ? { path: targetFile, name: baseName(targetFile) } : undefined,
    src,
    dst,
    network: pruneOrUndefined({ protocol: s('protocol')?.toLowerCase() }),
    eventCode: eventId,
    logName: rd.str(sys, 'channel', `${f}.system.channel`),
    // Windows renders the message with surrounding quotes.
    message: message?.replace(/^"|"$/g, ''),
    unmapped: pruneOrUndefined({
      windows: pruneOrUndefined({
        provider: rd.str(sys, 'providerName', `${f}.system.providerName`),
        computer: rd.str(sys, 'computer', `${f}.system.computer`),
        record_id: rd.str(sys, 'eventRecordID', `${f}.system.eventRecordID`),
        logon_type: s('logonType'),
        status: s('status'),
        sub_status: s('subStatus'),
        failure_reason: s('failureReason'),
        target_user: logon ? undefined : pruneOrUndefined(target.name ? target : {}),
        query: s('queryName'),
      }),
    }),
  };
}
