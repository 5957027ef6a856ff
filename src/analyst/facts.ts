import { isInternalIp } from '../cases/observables.ts';
import type { EvidenceContext } from './checker.ts';
import { resolvePath } from './checker.ts';
import type { AnalysisInput, EvidenceRecord, FieldRoles } from './types.ts';

/** Distinct values of one role across records, each with the first record that has it. */
export interface RoleValues {
  values: string[];
  firstRecord: Map<string, string>;
}

export interface Facts {
  total: number;
  roles: Partial<Record<keyof FieldRoles, RoleValues>>;
  externalIps: string[];
  internalIps: string[];
  failures: number;
  /** Records whose identity is a cloud service acting for itself (AWSService). */
  serviceActors: number;
  readOnly: number;
}

function str(v: unknown): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** Gather what the records say, by role, without interpreting it. */
export function gatherFacts(records: EvidenceRecord[]): Facts {
  const roles: Facts['roles'] = {};
  let failures = 0;
  let serviceActors = 0;
  let readOnly = 0;
  for (const r of records) {
    for (const [role, path] of Object.entries(r.roles) as Array<[keyof FieldRoles, string]>) {
      const v = str(resolvePath(r.record, path));
      if (!v) continue;
      let rv = roles[role];
      if (!rv) {
        rv = { values: [], firstRecord: new Map<string, string>() };
        roles[role] = rv;
      }
      if (!rv.firstRecord.has(v)) {
        rv.firstRecord.set(v, r.id);
        rv.values.push(v);
      }
    }
    const status = r.roles.status ? resolvePath(r.record, r.roles.status) : undefined;
    if (status === 'failure') failures++;
    if (resolvePath(r.record, 'actor.user.type') === 'AWSService') serviceActors++;
    if (resolvePath(r.record, 'cloud.read_only') === true) readOnly++;
  }
  const ips = [...(roles.src_ip?.values ?? [])];
  return {
    total: records.length,
    roles,
    externalIps: ips.filter((ip) => !isInternalIp(ip)),
    internalIps: ips.filter((ip) => isInternalIp(ip)),
    failures,
    serviceActors,
    readOnly,
  };
}

/** What a verdict on this input may cite: its records, the alert and the incident, and counts derived from them. */
export function evidenceContext(
  input: AnalysisInput,
  facts: Facts,
  knownTechniques?: Set<string>,
): EvidenceContext {
  const records = new Map<string, unknown>();
  for (const r of input.records) records.set(r.id, r.record);
  records.set(input.alert.id, input.alert);
  // An incident analysed as a whole has the incident's id on its combined alert: keep the detections citable.
  if (input.incident) {
    records.set(
      input.incident.id,
      input.incident.id === input.alert.id
        ? { ...input.incident, detections: input.alert.detections }
        : input.incident,
    );
  }
  const derived = [
    facts.total,
    input.alert.count,
    input.incident_size,
    facts.failures,
    facts.total - facts.failures,
  ];
  for (const rv of Object.values(facts.roles)) if (rv) derived.push(rv.values.length);
  derived.push(facts.externalIps.length, facts.internalIps.length);
  const ctx: EvidenceContext = { records, derivedNumbers: derived };
  if (knownTechniques) ctx.knownTechniques = knownTechniques;
  return ctx;
}
