import { isRfc1918 } from '../../../net/ip.ts';
/** CloudTrail facts shared by the CloudTrail feature sets. */
import type { EventDraft } from '../../../schema/event.ts';

const READ_PREFIXES = [
  'Get',
  'List',
  'Describe',
  'Head',
  'Lookup',
  'Search',
  'Scan',
  'Query',
  'BatchGet',
  'Select',
  'Check',
  'View',
  'Estimate',
  'Preview',
  'Validate',
  'Test',
  'Simulate',
];
const DELETE_PREFIXES = [
  'Delete',
  'Remove',
  'Detach',
  'Terminate',
  'Revoke',
  'Deregister',
  'Disassociate',
  'Disable',
  'Purge',
  'Cancel',
  'Stop',
  'Leave',
  'Destroy',
  'Unassign',
];

function startsWithVerb(op: string, verbs: readonly string[]): boolean {
  // A verb counts only as a whole word: "Describe…" but not "Deleted…"-like names that merely start alike.
  return verbs.some((v) => op.startsWith(v) && (op.length === v.length || /[A-Z0-9]/.test(op[v.length]!)));
}

/** Whether a call only reads: CloudTrail's `readOnly` when recorded, else the verb of the operation. */
export function isReadCall(e: EventDraft): boolean {
  if (e.cloud?.read_only !== undefined) return e.cloud.read_only;
  return startsWithVerb(e.cloud?.operation ?? '', READ_PREFIXES);
}

/** Whether a call removes, stops or detaches something (by its verb). */
export function isDeleteCall(e: EventDraft): boolean {
  return !isReadCall(e) && startsWithVerb(e.cloud?.operation ?? '', DELETE_PREFIXES);
}

/** RFC 1918 private IPv4 ranges only, as DESIGN §2 defines is_internal_ip (src/net/ip.ts; IPv4-mapped included). */
export { isRfc1918 };

/** Whether AWS itself made the call: a service principal, `invokedBy`, or a service name instead of an address. */
export function isAwsService(e: EventDraft): boolean {
  const type = e.actor?.user?.type;
  if (type === 'AWSService') return true;
  if (e.actor?.invoked_by) return true;
  const host = e.src_endpoint?.hostname;
  return host !== undefined && (host.endsWith('.amazonaws.com') || host === 'AWS Internal');
}

/** The service short name: `iam` for `iam.amazonaws.com`. */
export function serviceOf(e: EventDraft): string {
  return (e.cloud?.service ?? '').replace(/\.amazonaws\.com$/, '');
}

/** Top-level keys of `requestParameters` in the original record (0 when absent or null). */
export function requestParamCount(e: EventDraft): number {
  const raw = e.raw as Record<string, unknown> | undefined;
  const rp = raw && typeof raw === 'object' ? raw.requestParameters : undefined;
  return rp && typeof rp === 'object' && !Array.isArray(rp) ? Object.keys(rp).length : 0;
}

/** Whether an event is a CloudTrail API call (what the CloudTrail feature sets describe). */
export function isCloudTrailCall(e: EventDraft): boolean {
  return (
    e.cloud?.provider === 'aws' &&
    typeof e.cloud.operation === 'string' &&
    typeof e.cloud.service === 'string'
  );
}

/** A stable key for the identity behind a call (ARN, then principal id, then name, then access key). */
export function identityKey(e: EventDraft): string {
  const u = e.actor?.user;
  return u?.arn ?? u?.uid ?? u?.name ?? u?.credential_uid ?? e.src_endpoint?.hostname ?? 'unknown';
}

/** Monday = 0 … Sunday = 6 (Python's `weekday()`, the convention of the models this replaces). */
export function weekdayMondayFirst(d: Date): number {
  return (d.getUTCDay() + 6) % 7;
}
