import type { EventDraft, Observable } from '../../schema/event.ts';
import { isObj, type Obj, optInt, optNum, optObj, optStr } from '../fields.ts';
import { optArr } from '../guardduty/context.ts';
import { baseName, type Observables, prune, pruneOrUndefined } from '../guardduty/draft.ts';

const INDICATOR_TYPES: Record<string, Observable['type']> = {
  IPV4_ADDRESS: 'ip',
  IPV6_ADDRESS: 'ip',
  DOMAIN: 'domain',
  EMAIL_ADDRESS: 'email',
  URL: 'url',
  HASH_MD5: 'hash',
  HASH_SHA1: 'hash',
  HASH_SHA256: 'hash',
  HASH_SHA512: 'hash',
  PROCESS: 'process',
};

/** `Process`: the process the finding is about. */
export function processOf(r: Obj): EventDraft['process'] {
  const p = optObj(r, 'Process');
  if (!p) return undefined;
  const path = optStr(p, 'Path', 'Process.Path');
  const parentPid = optInt(p, 'ParentPid', 'Process.ParentPid');
  return pruneOrUndefined({
    name: optStr(p, 'Name', 'Process.Name') ?? (path ? baseName(path) : undefined),
    path,
    pid: optInt(p, 'Pid', 'Process.Pid'),
    parent: parentPid === undefined ? undefined : { pid: parentPid },
  });
}

/** `Malware[]`: kept in `unmapped.malware`; the first with a path becomes the event's file. */
export function malwareOf(r: Obj, obs: Observables, unmapped: Record<string, unknown>): EventDraft['file'] {
  const list = (optArr(r, 'Malware', 'Malware') ?? []).filter(isObj);
  const found = list.map((m, i) =>
    prune({
      name: optStr(m, 'Name', `Malware[${i}].Name`),
      path: optStr(m, 'Path', `Malware[${i}].Path`),
      type: optStr(m, 'Type', `Malware[${i}].Type`),
      state: optStr(m, 'State', `Malware[${i}].State`),
    }),
  );
  for (const m of found) obs.add('file', m.path, 'unmapped.malware.path');
  if (found.length) unmapped.malware = found;
  const withPath = found.find((m) => m.path);
  return withPath?.path ? { path: withPath.path, name: baseName(withPath.path) } : undefined;
}

/** `ThreatIntelIndicators[]` as observables and `unmapped.threat_intel`. */
export function indicatorsOf(r: Obj, obs: Observables, unmapped: Record<string, unknown>): void {
  const found = (optArr(r, 'ThreatIntelIndicators', 'ThreatIntelIndicators') ?? [])
    .filter(isObj)
    .map((t, i) =>
      prune({
        type: optStr(t, 'Type', `ThreatIntelIndicators[${i}].Type`),
        value: optStr(t, 'Value', `ThreatIntelIndicators[${i}].Value`),
        category: optStr(t, 'Category', `ThreatIntelIndicators[${i}].Category`),
        source: optStr(t, 'Source', `ThreatIntelIndicators[${i}].Source`),
      }),
    );
  for (const t of found) {
    const kind = t.type ? INDICATOR_TYPES[t.type] : undefined;
    if (kind) obs.add(kind, t.value, 'unmapped.threat_intel');
  }
  if (found.length) unmapped.threat_intel = found;
}

/** Vulnerability ids (CVE-…) with their highest CVSS base score. */
export function vulnerabilitiesOf(r: Obj): Array<{ id: string; cvss?: number }> {
  const out: Array<{ id: string; cvss?: number }> = [];
  (optArr(r, 'Vulnerabilities', 'Vulnerabilities') ?? []).filter(isObj).forEach((v, i) => {
    const id = optStr(v, 'Id', `Vulnerabilities[${i}].Id`);
    if (!id) return;
    let cvss: number | undefined;
    (optArr(v, 'Cvss', `Vulnerabilities[${i}].Cvss`) ?? []).filter(isObj).forEach((c, j) => {
      const score = optNum(c, 'BaseScore', `Vulnerabilities[${i}].Cvss[${j}].BaseScore`);
      if (score !== undefined && (cvss === undefined || score > cvss)) cvss = score;
    });
    out.push(prune({ id, cvss }));
  });
  return out;
}
