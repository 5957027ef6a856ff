import { ocsfFromSeverity } from '../../schema/common.ts';
import { type EventDraft, ocsfClass } from '../../schema/event.ts';
import {
  asObj,
  isObj,
  type Obj,
  optBool,
  optInt,
  optNum,
  optObj,
  optStr,
  ParseError,
  reqStr,
  toIsoTime,
} from '../fields.ts';
import { actionOf } from './action.ts';
import { type Built, type Draft, objects, optArr, sub } from './context.ts';
import { Observables, prune, pruneOrUndefined } from './draft.ts';
import { resourceOf } from './resource.ts';
import { malwareOf, runtimeOf } from './runtime.ts';
import { guardDutySeverity } from './severity.ts';
import { attackOfType, techniquesOfIndicators, threatPurpose } from './techniques.ts';

/** EventBridge `detail-type` of GuardDuty findings. */
export const GUARDDUTY_DETAIL_TYPE = 'GuardDuty Finding';

/**
 * Whether a value is Wazuh's GuardDuty sample document: a Wazuh 5 indexer
 * document (ECS fields) whose `event.original` holds the GuardDuty finding
 * as a JSON string. See docs/sources.md for why GuardDuty, not Wazuh, owns it.
 */
export function isWazuhGuardDutyDocument(v: Obj): boolean {
  const event = v.event;
  if (!isObj(event) || typeof event.original !== 'string') return false;
  if (event.provider === 'guardduty') return true;
  const cloud = isObj(v.cloud) ? v.cloud : undefined;
  const service = cloud && isObj(cloud.service) ? cloud.service : undefined;
  if (service?.name === 'guardduty') return true;
  const integration = isObj(v.wazuh) && isObj(v.wazuh.integration) ? v.wazuh.integration : undefined;
  return Array.isArray(integration?.decoders) && integration.decoders.includes('aws-guardduty');
}

/** Whether a finding uses the AWS CLI/SDK member names (`AccountId`, `Service`) instead of the wire names. */
function isPascalCase(v: Obj): boolean {
  return 'AccountId' in v || 'SchemaVersion' in v || ('Id' in v && 'Type' in v);
}

/**
 * The wire names of a finding printed by `aws guardduty get-findings`: the
 * CLI prints each member with its first letter upper-cased (`IpAddressV4`),
 * the API, S3 exports and EventBridge send it lower-cased (`ipAddressV4`).
 */
export function wireNames(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(wireNames);
  if (!isObj(v)) return v;
  const out: Obj = {};
  for (const [k, x] of Object.entries(v)) out[k.charAt(0).toLowerCase() + k.slice(1)] = wireNames(x);
  return out;
}

/**
 * Expand a parsed value into GuardDuty findings: `{"Findings": [...]}` (the
 * CLI and the API), EventBridge envelopes, bare findings and Wazuh's sample
 * documents (arrays are split by the framing).
 */
export function unwrapGuardDuty(value: unknown): unknown[] {
  if (!isObj(value)) return [value];
  for (const key of ['Findings', 'findings']) {
    if (key in value) {
      const list = value[key];
      if (!Array.isArray(list)) throw new ParseError(`${key} must be an array`, key);
      return list;
    }
  }
  const detailType = value['detail-type'];
  if (typeof detailType === 'string' && 'detail' in value) {
    if (detailType !== GUARDDUTY_DETAIL_TYPE) {
      throw new ParseError(
        `EventBridge detail-type ${JSON.stringify(detailType)} is not a GuardDuty finding`,
        'detail-type',
      );
    }
    return [value.detail];
  }
  return [value];
}

/** Likelihood that a record is a GuardDuty finding (in any of the accepted shapes). */
export function sniffGuardDuty(value: unknown): number {
  if (!isObj(value)) return 0;
  const list = value.Findings ?? value.findings;
  if (Array.isArray(list)) return isObj(list[0]) ? sniffGuardDuty(list[0]) : 0;
  if (value['detail-type'] === GUARDDUTY_DETAIL_TYPE) return 0.95;
  if (isWazuhGuardDutyDocument(value)) return 0.9;
  const f = isPascalCase(value) ? (wireNames(value) as Obj) : value;
  let score = 0;
  if (typeof f.arn === 'string' && f.arn.includes(':guardduty:') && f.arn.includes('/finding/')) score += 0.5;
  if (isObj(f.service) && f.service.serviceName === 'guardduty') score += 0.3;
  if (isObj(f.resource) && typeof f.resource.resourceType === 'string') score += 0.1;
  if (typeof f.type === 'string' && /^[A-Za-z]+:[\w-]+\//.test(f.type)) score += 0.1;
  return Math.min(score, 1);
}

/** The finding inside one of Wazuh's sample documents, parsed from `event.original`. */
function findingOfWazuhDocument(doc: Obj): Obj {
  const original = (doc.event as Obj).original as string;
  let parsed: unknown;
  try {
    parsed = JSON.parse(original);
  } catch (err) {
    throw new ParseError(`event.original is not valid JSON: ${(err as Error).message}`, 'event.original');
  }
  return asObj(parsed, 'event.original');
}

/** What the Wazuh document adds beside the finding: which agent read it and which Wazuh rule fired. */
function wazuhContext(doc: Obj): Record<string, unknown> | undefined {
  const w = optObj(doc, 'wazuh');
  if (!w) return undefined;
  const agent = optObj(w, 'agent', 'wazuh.agent');
  const rule = optObj(w, 'rule', 'wazuh.rule');
  const integration = optObj(w, 'integration', 'wazuh.integration');
  return pruneOrUndefined({
    agent_id: agent ? optStr(agent, 'id', 'wazuh.agent.id') : undefined,
    agent_name: agent ? optStr(agent, 'name', 'wazuh.agent.name') : undefined,
    rule_id: rule ? optStr(rule, 'id', 'wazuh.rule.id') : undefined,
    rule_title: rule ? optStr(rule, 'title', 'wazuh.rule.title') : undefined,
    integration: integration ? optStr(integration, 'name', 'wazuh.integration.name') : undefined,
  });
}

/**
 * Normalise one GuardDuty finding into an OCSF Detection Finding (2004) that
 * carries the upstream verdict in `finding`.
 */
export function normaliseGuardDuty(record: unknown): EventDraft[] {
  const r = asObj(record);
  if (isWazuhGuardDutyDocument(r)) {
    const draft = normaliseFinding(findingOfWazuhDocument(r), 'event.original.');
    const wazuh = wazuhContext(r);
    if (wazuh) draft.unmapped = { ...draft.unmapped, wazuh };
    return [{ ...draft, raw: record }];
  }
  const finding = isPascalCase(r) ? (wireNames(r) as Obj) : r;
  return [{ ...normaliseFinding(finding, ''), raw: record }];
}

/** A finding (wire names) to a draft; `p` prefixes field names in errors (`event.original.`). */
function normaliseFinding(f: Obj, p: string): Draft {
  const id = reqStr(f, 'id', `${p}id`);
  const type = reqStr(f, 'type', `${p}type`);
  const level = optNum(f, 'severity', `${p}severity`);
  if (level === undefined) throw new ParseError(`${p}severity is required`, `${p}severity`);
  const severity = guardDutySeverity(level, `${p}severity`);
  // The revision's time: with the finding id it makes each update of a finding its own event.
  const timeKey = f.updatedAt !== undefined && f.updatedAt !== null ? 'updatedAt' : 'createdAt';
  const time = toIsoTime(f[timeKey], `${p}${timeKey}`);
  const account = optStr(f, 'accountId', `${p}accountId`);
  const region = optStr(f, 'region', `${p}region`);
  const partition = optStr(f, 'partition', `${p}partition`) ?? 'aws';
  const title = optStr(f, 'title', `${p}title`) ?? type;
  const description = optStr(f, 'description', `${p}description`);
  const resource = optObj(f, 'resource', `${p}resource`) ?? {};
  const service = optObj(f, 'service', `${p}service`) ?? {};
  const action = optObj(service, 'action', `${p}service.action`) ?? {};
  const actionType = optStr(action, 'actionType', `${p}service.action.actionType`);
  const archived = optBool(service, 'archived', `${p}service.archived`) ?? false;
  const additional = optObj(service, 'additionalInfo', `${p}service.additionalInfo`);
  const sample = additional ? optBool(additional, 'sample', `${p}service.additionalInfo.sample`) : undefined;

  const b: Built = { obs: new Observables(), resources: new Set(), unmapped: {} };
  const res = resourceOf(resource, { account, region, partition }, `${p}resource`, b);
  const act = actionOf(type, action, actionType, res.local, `${p}service.action`, b);
  const run = runtimeOf(service, `${p}service`, b);
  const malware = malwareOf(service, `${p}service`, b);

  b.obs.add('ip', act.src?.ip, 'src_endpoint.ip');
  b.obs.add('ip', act.dst?.ip, 'dst_endpoint.ip');
  const user = res.user;
  if (user?.name) b.obs.add('user', user.name, 'actor.user.name');
  if (user?.credential_uid) b.obs.add('access_key', user.credential_uid, 'actor.user.credential_uid');
  if (account) b.obs.add('account', account, 'cloud.account_uid');
  if (res.device?.instance_uid) b.obs.add('instance', res.device.instance_uid, 'device.instance_uid');

  const { tactics, techniques: byType } = attackOfType(type);
  // What the finding states first (attack sequences name their techniques), then what its documented type implies.
  const sequence = sub(
    sub(service, 'detection', `${p}service.detection`),
    'sequence',
    `${p}service.detection.sequence`,
  );
  const stated = techniquesOfIndicators(
    objects(sequence, 'indicators', `${p}service.detection.sequence.indicators`),
  );
  const techniques = [...new Set([...stated, ...byType])];
  const purpose = threatPurpose(type);
  const tags = ['guardduty'];
  if (purpose) tags.push(purpose.toLowerCase());
  for (const t of tactics) tags.push(`attack.${t}`);
  if (sample) tags.push('sample');

  const evidence = sub(service, 'evidence', `${p}service.evidence`);
  const intel = objects(
    evidence,
    'threatIntelligenceDetails',
    `${p}service.evidence.threatIntelligenceDetails`,
  )
    .map((t, i) =>
      prune({
        list: optStr(
          t,
          'threatListName',
          `${p}service.evidence.threatIntelligenceDetails[${i}].threatListName`,
        ),
        names: (
          optArr(t, 'threatNames', `${p}service.evidence.threatIntelligenceDetails[${i}].threatNames`) ?? []
        ).filter((n): n is string => typeof n === 'string'),
      }),
    )
    .filter((t) => Object.keys(t).length > 0);

  Object.assign(b.unmapped, {
    finding_arn: optStr(f, 'arn', `${p}arn`),
    resource_type: optStr(resource, 'resourceType', `${p}resource.resourceType`),
    resource_role: optStr(service, 'resourceRole', `${p}service.resourceRole`),
    detector_id: optStr(service, 'detectorId', `${p}service.detectorId`),
    feature: optStr(service, 'featureName', `${p}service.featureName`),
    count: optInt(service, 'count', `${p}service.count`),
    first_seen: optStr(service, 'eventFirstSeen', `${p}service.eventFirstSeen`),
    last_seen: optStr(service, 'eventLastSeen', `${p}service.eventLastSeen`),
    created_at: optStr(f, 'createdAt', `${p}createdAt`),
    threat_intel: intel.length ? intel : undefined,
    archived: archived || undefined,
    sample,
  });

  const statusDetail = [archived ? 'archived in GuardDuty' : undefined, act.statusDetail].filter(Boolean);
  const draft: Draft = {
    ...ocsfClass(2004),
    source_event_id: id,
    time,
    activity_name: actionType ?? optStr(service, 'featureName', `${p}service.featureName`),
    severity_id: ocsfFromSeverity(severity),
    status: act.status ?? 'unknown',
    status_detail: statusDetail.length ? statusDetail.join('; ') : undefined,
    message: description ?? title,
    actor: user ? { user } : undefined,
    src_endpoint: act.src,
    dst_endpoint: act.dst,
    device: res.device,
    process: run.process,
    file: run.file ?? malware,
    cloud: prune({
      provider: 'aws',
      account_uid: account,
      region,
      service: act.service,
      operation: act.operation,
      resource_uids: [...b.resources],
      user_agent: act.userAgent,
      error_code: act.errorCode,
    }),
    network: act.network,
    http: act.http,
    dns: act.dns,
    // An archived finding was closed in GuardDuty (by an analyst or a suppression
    // rule): it is kept as an event but carries no verdict, so it raises no alert.
    finding: archived
      ? undefined
      : { uid: type, title, product: 'GuardDuty', severity, level, tags, techniques },
    observables: b.obs.list(),
    metadata: prune({
      product: 'GuardDuty',
      vendor: 'AWS',
      version: optStr(f, 'schemaVersion', `${p}schemaVersion`),
      event_code: type,
    }),
  };
  draft.unmapped = pruneOrUndefined(b.unmapped);
  return prune(draft);
}
