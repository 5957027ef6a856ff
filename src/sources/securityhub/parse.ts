import { ocsfFromSeverity } from '../../schema/common.ts';
import { type EventDraft, ocsfClass } from '../../schema/event.ts';
import { asObj, isObj, optBool, optNum, optObj, optStr, ParseError, reqStr, toIsoTime } from '../fields.ts';
import { optArr } from '../guardduty/context.ts';
import { Observables, prune, pruneOrUndefined } from '../guardduty/draft.ts';
import { attackOfType } from '../guardduty/techniques.ts';
import { indicatorsOf, malwareOf, processOf, vulnerabilitiesOf } from './details.ts';
import { networkOf } from './network.ts';
import { resourcesOf } from './resources.ts';
import { asffSeverity } from './severity.ts';

/** EventBridge detail types whose `detail.findings` hold ASFF findings. */
export const SECURITYHUB_DETAIL_TYPES = new Set([
  'Security Hub Findings - Imported',
  'Security Hub Findings - Custom Action',
]);

/**
 * Expand a parsed value into ASFF findings: `{"Findings": [...]}`
 * (GetFindings output, BatchImportFindings input), EventBridge envelopes
 * (`detail.findings`) and bare findings.
 */
export function unwrapSecurityHub(value: unknown): unknown[] {
  if (!isObj(value)) return [value];
  if ('Findings' in value) {
    if (!Array.isArray(value.Findings)) throw new ParseError('Findings must be an array', 'Findings');
    return value.Findings;
  }
  const detailType = value['detail-type'];
  if (typeof detailType === 'string' && 'detail' in value) {
    if (!SECURITYHUB_DETAIL_TYPES.has(detailType)) {
      throw new ParseError(
        `EventBridge detail-type ${JSON.stringify(detailType)} does not carry Security Hub findings`,
        'detail-type',
      );
    }
    const detail = asObj(value.detail, 'detail');
    if (!Array.isArray(detail.findings))
      throw new ParseError('detail.findings must be an array', 'detail.findings');
    return detail.findings;
  }
  return [value];
}

/** Likelihood that a record is an ASFF finding (or a list or envelope of them). */
export function sniffSecurityHub(value: unknown): number {
  if (!isObj(value)) return 0;
  if (Array.isArray(value.Findings))
    return isObj(value.Findings[0]) ? sniffSecurityHub(value.Findings[0]) : 0;
  const dt = value['detail-type'];
  if (typeof dt === 'string' && SECURITYHUB_DETAIL_TYPES.has(dt)) return 0.95;
  let score = 0;
  if (value.SchemaVersion === '2018-10-08') score += 0.4;
  if (typeof value.ProductArn === 'string' && value.ProductArn.includes(':product/')) score += 0.3;
  if ('AwsAccountId' in value) score += 0.1;
  if ('GeneratorId' in value) score += 0.1;
  if (Array.isArray(value.Resources)) score += 0.1;
  return Math.min(score, 1);
}

/** ASFF `Types` namespaces that describe an attack rather than a configuration state. */
const THREAT_NAMESPACES = ['TTPs', 'Effects', 'Unusual Behaviors', 'Sensitive Data Identifications'];

/** ATT&CK tactic short name of a `TTPs/<Tactic>/…` type. */
function tacticOfType(t: string): string | undefined {
  const m = /^TTPs\/([^/]+)/.exec(t);
  return m ? m[1]!.trim().toLowerCase().replace(/\s+/g, '-') : undefined;
}

/**
 * The GuardDuty finding type inside a Security Hub type: Security Hub uses
 * `/` as its separator, so GuardDuty's `Backdoor:EC2/C&CActivity.B` arrives as
 * `TTPs/Command and Control/Backdoor:EC2-C&CActivity.B`.
 */
export function guardDutyTypeOf(types: string[]): string | undefined {
  for (const t of types) {
    const last = t.split('/').pop() ?? '';
    const m = /^([A-Za-z]+:[A-Za-z0-9]+)-(.+)$/.exec(last);
    if (m) return `${m[1]}/${m[2]}`;
  }
  return undefined;
}

/**
 * Normalise one ASFF finding: threat detections become OCSF Detection
 * Findings (2004), configuration and vulnerability checks Security Findings
 * (2001); the finding's verdict rides in `finding` unless Security Hub says it
 * is closed (archived, resolved, suppressed or a passed check).
 */
export function normaliseSecurityHub(record: unknown): EventDraft[] {
  const r = asObj(record);
  const id = reqStr(r, 'Id');
  const timeKey = r.UpdatedAt !== undefined && r.UpdatedAt !== null ? 'UpdatedAt' : 'CreatedAt';
  const time = toIsoTime(r[timeKey], timeKey);
  const { severity, level } = asffSeverity(optObj(r, 'Severity'));
  const types = (optArr(r, 'Types', 'Types') ?? []).filter((t): t is string => typeof t === 'string');
  const productArn = optStr(r, 'ProductArn');
  const productFields = optObj(r, 'ProductFields') ?? {};
  const productName =
    optStr(r, 'ProductName') ??
    optStr(productFields, 'aws/securityhub/ProductName', 'ProductFields.aws/securityhub/ProductName') ??
    productArn?.split('/').pop();
  const isGuardDuty =
    productName?.toLowerCase() === 'guardduty' || productArn?.endsWith('/aws/guardduty') === true;
  const gdType = isGuardDuty ? guardDutyTypeOf(types) : undefined;
  const compliance = optObj(r, 'Compliance');
  const controlId = compliance
    ? optStr(compliance, 'SecurityControlId', 'Compliance.SecurityControlId')
    : undefined;
  const complianceStatus = compliance ? optStr(compliance, 'Status', 'Compliance.Status') : undefined;
  const account = optStr(r, 'AwsAccountId');
  const region = optStr(r, 'Region');
  const title = optStr(r, 'Title') ?? types[0] ?? id;
  const description = optStr(r, 'Description');

  const workflow = optObj(r, 'Workflow');
  const workflowStatus =
    (workflow ? optStr(workflow, 'Status', 'Workflow.Status') : undefined) ??
    legacyWorkflow(optStr(r, 'WorkflowState'));
  const recordState = optStr(r, 'RecordState');
  const gdArchived =
    optStr(
      productFields,
      'aws/guardduty/service/archived',
      'ProductFields.aws/guardduty/service/archived',
    ) === 'true';
  const closedBecause =
    recordState === 'ARCHIVED'
      ? 'archived'
      : workflowStatus === 'RESOLVED' || workflowStatus === 'SUPPRESSED'
        ? workflowStatus.toLowerCase()
        : complianceStatus === 'PASSED'
          ? 'passed'
          : gdArchived
            ? 'archived in GuardDuty'
            : undefined;

  const obs = new Observables();
  const unmapped: Record<string, unknown> = {};
  const resources = resourcesOf(r, obs, unmapped);
  const net = networkOf(r, resources.local, unmapped);
  const proc = processOf(r);
  const malware = malwareOf(r, obs, unmapped);
  indicatorsOf(r, obs, unmapped);
  const vulnerabilities = vulnerabilitiesOf(r);

  obs.add('ip', net.src?.ip, 'src_endpoint.ip');
  obs.add('ip', net.dst?.ip, 'dst_endpoint.ip');
  obs.add('domain', net.dns?.query, 'dns.query');
  const user = resources.user;
  if (user?.name) obs.add('user', user.name, 'actor.user.name');
  if (user?.credential_uid) obs.add('access_key', user.credential_uid, 'actor.user.credential_uid');
  if (account) obs.add('account', account, 'cloud.account_uid');
  if (resources.device?.instance_uid)
    obs.add('instance', resources.device.instance_uid, 'device.instance_uid');
  if (proc?.path || proc?.name) obs.add('process', proc.path ?? proc.name, 'process.path');

  const tactics = new Set<string>();
  for (const t of types) {
    const tactic = tacticOfType(t);
    if (tactic) tactics.add(tactic);
  }
  const attack = gdType ? attackOfType(gdType) : { tactics: [], techniques: [] };
  for (const t of attack.tactics) tactics.add(t);
  const productSlug = productName?.toLowerCase().replace(/\s+/g, '-');
  const tags = [
    'securityhub',
    ...(productSlug ? [productSlug] : []),
    ...types,
    ...[...tactics].map((t) => `attack.${t}`),
  ];
  if (optBool(r, 'Sample')) tags.push('sample');
  const confidence = optNum(r, 'Confidence');

  const isThreat = types.some((t) => THREAT_NAMESPACES.some((ns) => t.startsWith(`${ns}/`) || t === ns));
  const remediation = optObj(optObj(r, 'Remediation') ?? {}, 'Recommendation', 'Remediation.Recommendation');
  Object.assign(unmapped, {
    generator_id: optStr(r, 'GeneratorId'),
    product_arn: productArn,
    company: optStr(r, 'CompanyName'),
    types: types.length ? types : undefined,
    workflow_status: workflowStatus,
    record_state: recordState,
    compliance: compliance
      ? pruneOrUndefined({
          status: complianceStatus,
          control_id: controlId,
          related_requirements: (
            optArr(compliance, 'RelatedRequirements', 'Compliance.RelatedRequirements') ?? []
          ).filter((x): x is string => typeof x === 'string'),
        })
      : undefined,
    remediation: remediation
      ? pruneOrUndefined({
          text: optStr(remediation, 'Text', 'Remediation.Recommendation.Text'),
          url: optStr(remediation, 'Url', 'Remediation.Recommendation.Url'),
        })
      : undefined,
    first_observed_at: optStr(r, 'FirstObservedAt'),
    last_observed_at: optStr(r, 'LastObservedAt'),
    created_at: optStr(r, 'CreatedAt'),
    source_url: optStr(r, 'SourceUrl'),
    remote: net.remote,
    vulnerabilities: vulnerabilities.length ? vulnerabilities : undefined,
  });

  const statusDetail = [
    workflowStatus ? `Workflow ${workflowStatus}` : undefined,
    recordState ? `RecordState ${recordState}` : undefined,
    complianceStatus ? `Compliance ${complianceStatus}` : undefined,
  ].filter(Boolean);
  // A rule-like id, so repeated findings of one kind fold together downstream.
  const uid = controlId ?? gdType ?? vulnerabilities[0]?.id ?? optStr(r, 'GeneratorId') ?? types[0];
  const draft: EventDraft = {
    ...ocsfClass(isThreat || gdType ? 2004 : 2001),
    source_event_id: id,
    time,
    activity_name:
      net.activity ??
      optStr(
        productFields,
        'aws/guardduty/service/action/actionType',
        'ProductFields.aws/guardduty/service/action/actionType',
      ),
    severity_id: ocsfFromSeverity(severity),
    status: complianceStatus === 'FAILED' ? 'failure' : complianceStatus === 'PASSED' ? 'success' : 'unknown',
    status_detail: statusDetail.length ? statusDetail.join('; ') : undefined,
    message: description ?? title,
    actor: user ? { user } : undefined,
    src_endpoint: net.src,
    dst_endpoint: net.dst,
    device: resources.device,
    process: proc,
    file: malware,
    cloud: prune({
      provider: 'aws',
      account_uid: account,
      region,
      service: net.service,
      operation: net.operation,
      resource_uids: resources.uids,
    }),
    network: net.network,
    dns: net.dns,
    // A finding Security Hub reports as closed is history, not a new verdict: it raises no alert.
    finding: closedBecause
      ? undefined
      : prune({
          uid,
          title,
          product: productName,
          severity,
          level,
          tags,
          techniques: attack.techniques,
          confidence: confidence === undefined ? undefined : Math.min(1, Math.max(0, confidence / 100)),
        }),
    observables: obs.list(),
    metadata: prune({
      product: productName ?? 'Security Hub',
      vendor: optStr(r, 'CompanyName') ?? 'AWS',
      version: optStr(r, 'SchemaVersion'),
      event_code: controlId ?? gdType,
    }),
    unmapped: pruneOrUndefined(unmapped),
    raw: undefined,
  };
  // Pruned before the original is attached: `raw` must stay exactly as received.
  return [{ ...prune(draft), raw: record }];
}

/** The deprecated `WorkflowState` in terms of `Workflow.Status`. */
function legacyWorkflow(state: string | undefined): string | undefined {
  if (state === undefined) return undefined;
  if (state === 'RESOLVED') return 'RESOLVED';
  if (state === 'DEFERRED') return 'SUPPRESSED';
  return 'NEW';
}
