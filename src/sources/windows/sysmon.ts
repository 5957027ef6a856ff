import type { EndpointFields, ProcessFields, WinDraft } from './draft.ts';
import { protocolOf, text, truthy } from './values.ts';

/** Sysmon event ids → name and OCSF class (0: no class fits; the event stays a Base Event). */
export const SYSMON_EVENTS: Readonly<Record<number, { name: string; class: number }>> = {
  1: { name: 'Process Create', class: 1007 },
  2: { name: 'File creation time changed', class: 1001 },
  3: { name: 'Network connection', class: 4001 },
  4: { name: 'Sysmon service state changed', class: 0 },
  5: { name: 'Process terminated', class: 1007 },
  6: { name: 'Driver loaded', class: 1005 },
  7: { name: 'Image loaded', class: 1005 },
  8: { name: 'CreateRemoteThread', class: 1007 },
  9: { name: 'RawAccessRead', class: 1001 },
  10: { name: 'ProcessAccess', class: 1007 },
  11: { name: 'FileCreate', class: 1001 },
  12: { name: 'Registry object added or deleted', class: 201001 },
  13: { name: 'Registry value set', class: 201001 },
  14: { name: 'Registry object renamed', class: 201001 },
  15: { name: 'FileCreateStreamHash', class: 1001 },
  16: { name: 'Sysmon config state changed', class: 0 },
  17: { name: 'Pipe Created', class: 1001 },
  18: { name: 'Pipe Connected', class: 1001 },
  19: { name: 'WmiEventFilter activity detected', class: 0 },
  20: { name: 'WmiEventConsumer activity detected', class: 0 },
  21: { name: 'WmiEventConsumerToFilter activity detected', class: 0 },
  22: { name: 'DNS query', class: 4003 },
  23: { name: 'File Delete archived', class: 1001 },
  24: { name: 'Clipboard changed', class: 0 },
  25: { name: 'Process Tampering', class: 1007 },
  26: { name: 'File Delete logged', class: 1001 },
  27: { name: 'File Block Executable', class: 1001 },
  28: { name: 'File Block Shredding', class: 1001 },
  29: { name: 'File Executable Detected', class: 1001 },
  255: { name: 'Sysmon error', class: 0 },
};

/** Whether a record comes from Sysmon (by channel or provider). */
export function isSysmon(channel: string | undefined, provider: string | undefined): boolean {
  return mentionsSysmon(channel) || mentionsSysmon(provider);
}

/**
 * Channel and provider names seen so far → whether they name Sysmon: a few
 * dozen names recur in every event, and a lookup is cheaper than the
 * case-insensitive search. Bounded; past the cap names are searched each time.
 */
const SYSMON_NAMES = new Map<string, boolean>();
const SYSMON_NAMES_MAX = 1024;

function mentionsSysmon(name: string | undefined): boolean {
  if (name === undefined) return false;
  let hit = SYSMON_NAMES.get(name);
  if (hit === undefined) {
    hit = /sysmon/i.test(name);
    if (SYSMON_NAMES.size < SYSMON_NAMES_MAX && name.length <= 256) SYSMON_NAMES.set(name, hit);
  }
  return hit;
}

/**
 * `QueryResults` of Sysmon 22: `type:  5 cname.example.;::ffff:192.0.2.1;`
 * → the names and addresses answered.
 */
export function dnsAnswers(v: unknown): string[] | undefined {
  const t = text(v);
  if (!t) return undefined;
  const out: string[] = [];
  for (const part of t.split(';')) {
    const s = part.trim().replace(/^type:\s+\d+\s+/, '');
    if (!s) continue;
    const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(s);
    out.push(mapped ? mapped[1]! : s);
  }
  return out.length ? out : undefined;
}

// Which data fields make up each process a Sysmon event names: constants, not objects built per event.
const IMAGE: ProcessFields = { path: 'Image', pid: 'ProcessId', guid: 'ProcessGuid', user: 'User' };
const IMAGE_CMD: ProcessFields = { ...IMAGE, cmd: 'CommandLine' };
const CREATED: ProcessFields = {
  ...IMAGE,
  cmd: 'CommandLine',
  integrity: 'IntegrityLevel',
  hashes: 'Hashes',
};
const CREATED_PARENT: ProcessFields = {
  path: 'ParentImage',
  cmd: 'ParentCommandLine',
  pid: 'ParentProcessId',
  guid: 'ParentProcessGuid',
  user: 'ParentUser',
};
const SOURCE_PROCESS: ProcessFields = {
  path: 'SourceImage',
  pid: 'SourceProcessId',
  guid: 'SourceProcessGuid',
  user: 'SourceUser',
};
const TARGET_PROCESS: ProcessFields = {
  path: 'TargetImage',
  pid: 'TargetProcessId',
  guid: 'TargetProcessGuid',
  user: 'TargetUser',
};
const SOURCE_ENDPOINT: EndpointFields = { ip: 'SourceIp', port: 'SourcePort', host: 'SourceHostname' };
const DESTINATION_ENDPOINT: EndpointFields = {
  ip: 'DestinationIp',
  port: 'DestinationPort',
  host: 'DestinationHostname',
};

/** Fill a draft from a Sysmon event; fields the schema has no place for stay in `unmapped` only. */
export function mapSysmon(d: WinDraft): void {
  const id = d.rec.eventId;
  const image = IMAGE;
  d.actorFrom('User');
  switch (id) {
    case 1: {
      const p = d.processFrom(CREATED);
      // CREATED_PARENT reads no hashes and processFrom sets no parent: the parent is used as it is.
      const parent = d.processFrom(CREATED_PARENT);
      if (p && parent) p.parent = parent;
      d.setProcess(p);
      if (parent?.path) d.observe('process', parent.path, 'process.parent.path');
      d.draft.activity_name = 'Process Create';
      break;
    }
    case 3: {
      d.setProcess(d.processFrom(image));
      d.endpoint('src_endpoint', SOURCE_ENDPOINT);
      d.endpoint('dst_endpoint', DESTINATION_ENDPOINT);
      const protocol = protocolOf(d.data.Protocol);
      d.draft.network = { direction: truthy(d.data.Initiated) ? 'outbound' : 'inbound' };
      if (protocol) d.draft.network.protocol = protocol;
      break;
    }
    case 6:
      d.file('ImageLoaded', 'Hashes');
      break;
    case 7:
      d.setProcess(d.processFrom(image));
      d.file('ImageLoaded', 'Hashes');
      break;
    case 8:
    case 10: {
      // The source process acts on the target: OCSF puts the actor in actor.process.
      const source = d.processFrom(SOURCE_PROCESS);
      const target = d.processFrom(TARGET_PROCESS);
      if (source) {
        d.setActor('process', source);
        d.observe('process', source.path, 'actor.process.path');
      }
      d.setProcess(target);
      if (!d.draft.actor?.user) d.actorFrom('SourceUser');
      break;
    }
    case 9:
      d.setProcess(d.processFrom(image));
      d.file('Device');
      break;
    case 2:
    case 11:
    case 23:
    case 26:
    case 27:
    case 28:
    case 29:
      d.setProcess(d.processFrom(image));
      d.file('TargetFilename', 'Hashes');
      break;
    case 15:
      d.setProcess(d.processFrom(image));
      d.file('TargetFilename', 'Hash');
      break;
    case 17:
    case 18:
      d.setProcess(d.processFrom(image));
      d.file('PipeName');
      break;
    case 22: {
      d.setProcess(d.processFrom(image));
      const query = d.str('QueryName');
      const dns: NonNullable<typeof d.draft.dns> = {};
      if (query) {
        dns.query = query;
        d.observe('domain', query, 'dns.query');
      }
      const status = d.str('QueryStatus');
      if (status) dns.rcode = status;
      const answers = dnsAnswers(d.data.QueryResults);
      if (answers) dns.answers = answers;
      d.draft.dns = dns;
      if (status !== undefined && status !== '0') d.draft.status = 'failure';
      break;
    }
    default:
      d.setProcess(d.processFrom(IMAGE_CMD));
  }
}
