import { type Endpoint, type EventDraft, type Observable, ocsfClass, type User } from '../../schema/event.ts';
import { asObj, boolOf, isObj, type Obj, objOf, ParseError, reqStrOf, strOf, toIsoTime } from '../fields.ts';

const IPV6 = /^[0-9a-f:]+:[0-9a-f:.]*$/i;

/** Whether CloudTrail's `sourceIPAddress` holds an address (it may hold a service name such as `ec2.amazonaws.com`). */
export function isIpAddress(v: string): boolean {
  return isDottedQuad(v) || (v.includes(':') && IPV6.test(v));
}

/** `/^\d{1,3}(\.\d{1,3}){3}$/` without the regular expression engine: four groups of 1–3 digits. */
function isDottedQuad(v: string): boolean {
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (++digits > 3) return false;
    } else if (c === 46 && digits > 0 && dots < 3) {
      dots++;
      digits = 0;
    } else return false;
  }
  return dots === 3 && digits > 0;
}

const EVENTBRIDGE_TYPES = new Set([
  'AWS API Call via CloudTrail',
  'AWS Console Sign In via CloudTrail',
  'AWS Service Event via CloudTrail',
  'AWS Console Action via CloudTrail',
]);

/** Whether a JSON value is a CloudTrail digest file (integrity chain), which holds no events. */
export function isDigest(o: Obj): boolean {
  return 'digestStartTime' in o && 'digestEndTime' in o;
}

/** Expand a parsed value into CloudTrail records: `{"Records": []}`, EventBridge envelopes, digests (none), bare records. */
export function unwrapCloudTrail(value: unknown): unknown[] {
  if (!isObj(value)) return [value];
  if ('Records' in value) {
    const records = value.Records;
    if (!Array.isArray(records)) throw new ParseError('Records must be an array', 'Records');
    return records;
  }
  if (isDigest(value)) return [];
  const detailType = value['detail-type'];
  if (typeof detailType === 'string' && 'detail' in value) {
    if (!EVENTBRIDGE_TYPES.has(detailType)) {
      throw new ParseError(
        `EventBridge detail-type ${JSON.stringify(detailType)} is not a CloudTrail event`,
        'detail-type',
      );
    }
    return [value.detail];
  }
  return [value];
}

/** Likelihood that a record is a CloudTrail event. */
export function sniffCloudTrail(value: unknown): number {
  if (!isObj(value)) return 0;
  if (Array.isArray(value.Records)) return isObj(value.Records[0]) ? sniffCloudTrail(value.Records[0]) : 0.6;
  if (isDigest(value)) return 0.9;
  const dt = value['detail-type'];
  if (typeof dt === 'string' && EVENTBRIDGE_TYPES.has(dt)) return 0.95;
  let score = 0;
  if ('eventSource' in value) score += 0.35;
  if ('eventName' in value) score += 0.2;
  if ('eventTime' in value) score += 0.15;
  if ('userIdentity' in value) score += 0.2;
  if ('awsRegion' in value) score += 0.1;
  return score;
}

const API_ACTIVITY = ocsfClass(6003);
const AUTHENTICATION = ocsfClass(3002);

function identityName(ui: Obj): string | undefined {
  const userName = strOf(ui.userName, 'userIdentity.userName');
  if (userName) return userName;
  const type = strOf(ui.type, 'userIdentity.type');
  const arn = strOf(ui.arn, 'userIdentity.arn');
  if (type === 'Root') return 'root';
  if (type === 'AssumedRole' && arn) {
    // arn:aws:sts::123:assumed-role/RoleName/session → RoleName/session
    const m = ASSUMED_ROLE.exec(arn);
    if (m) return m[1];
  }
  const context = objOf(ui.sessionContext, 'userIdentity.sessionContext');
  const issuer = context ? objOf(context.sessionIssuer, 'sessionIssuer') : undefined;
  const issuerName = issuer
    ? strOf(issuer.userName, 'userIdentity.sessionContext.sessionIssuer.userName')
    : undefined;
  if (issuerName) return issuerName;
  if (arn) return arn.split('/').pop();
  return strOf(ui.invokedBy, 'userIdentity.invokedBy') ?? strOf(ui.principalId, 'userIdentity.principalId');
}

const ASSUMED_ROLE = /assumed-role\/(.+)$/;

function mfaOf(r: Obj, ui: Obj | undefined): boolean | undefined {
  const context = ui ? objOf(ui.sessionContext, 'sessionContext') : undefined;
  const attrs = context ? objOf(context.attributes, 'attributes') : undefined;
  const v = attrs?.mfaAuthenticated;
  if (v === 'true' || v === true) return true;
  if (v === 'false' || v === false) {
    // Console sign-ins record MFA in additionalEventData.
  } else if (v !== undefined) return undefined;
  const add = isObj(r.additionalEventData) ? r.additionalEventData : undefined;
  const used = add?.MFAUsed;
  if (used === 'Yes') return true;
  if (used === 'No') return false;
  return v === 'false' || v === false ? false : undefined;
}

/**
 * Normalise one CloudTrail record into an OCSF API Activity event
 * (Authentication for console sign-ins).
 *
 * The event is built as one object literal, with absent fields left
 * undefined rather than added or deleted one by one: objects grown or
 * shrunk key by key leave V8's fast mode, which made normalisation several
 * times slower than parsing the JSON (see bench/normalise.ts). Fields are
 * read by name (`strOf(r.eventName, …)`), not through `optStr(r, key)`:
 * see `strOf` in ../fields.ts.
 */
export function normaliseCloudTrail(record: unknown): EventDraft[] {
  const r = asObj(record);
  const eventName = reqStrOf(r.eventName, 'eventName');
  const eventSource = reqStrOf(r.eventSource, 'eventSource');
  // Logstash's date filter moves eventTime into @timestamp (ELK exports of CloudTrail); read it there too.
  const time = toIsoTime(r.eventTime ?? r['@timestamp'], 'eventTime');
  const ui = objOf(r.userIdentity, 'userIdentity');
  const errorCode = strOf(r.errorCode, 'errorCode');
  const errorMessage = strOf(r.errorMessage, 'errorMessage');
  const sourceIp = strOf(r.sourceIPAddress, 'sourceIPAddress');
  const userAgent = strOf(r.userAgent, 'userAgent');
  const region = strOf(r.awsRegion, 'awsRegion');
  const recipient = strOf(r.recipientAccountId, 'recipientAccountId');
  const eventId = strOf(r.eventID, 'eventID');
  const readOnly = boolOf(r.readOnly, 'readOnly');
  const user: User | undefined = ui
    ? {
        name: identityName(ui),
        uid: strOf(ui.principalId, 'userIdentity.principalId'),
        type: strOf(ui.type, 'userIdentity.type'),
        account_uid: strOf(ui.accountId, 'userIdentity.accountId'),
        credential_uid: strOf(ui.accessKeyId, 'userIdentity.accessKeyId'),
        arn: strOf(ui.arn, 'userIdentity.arn'),
        mfa: mfaOf(r, ui),
      }
    : undefined;
  const invokedBy = ui ? strOf(ui.invokedBy, 'userIdentity.invokedBy') : undefined;
  let resources: string[] | undefined;
  const resourceList = r.resources;
  if (Array.isArray(resourceList)) {
    for (let i = 0; i < resourceList.length; i++) {
      const res: unknown = resourceList[i];
      if (!isObj(res) || typeof res.ARN !== 'string') continue;
      if (resources) resources.push(res.ARN);
      else resources = [res.ARN];
    }
  }
  const isLogin = eventName === 'ConsoleLogin';
  const loginFailed = isLogin && isObj(r.responseElements) && r.responseElements.ConsoleLogin === 'Failure';
  const failed = errorCode !== undefined || loginFailed;
  const observables: Observable[] = [];
  let srcEndpoint: Endpoint | undefined;
  if (sourceIp) {
    if (isIpAddress(sourceIp)) {
      srcEndpoint = { ip: sourceIp };
      observables.push({ type: 'ip', value: sourceIp, name: 'src_endpoint.ip' });
    } else srcEndpoint = { hostname: sourceIp };
  }
  if (user?.name) observables.push({ type: 'user', value: user.name, name: 'actor.user.name' });
  if (user?.credential_uid)
    observables.push({ type: 'access_key', value: user.credential_uid, name: 'actor.user.credential_uid' });
  const account = recipient ?? user?.account_uid;
  if (account) observables.push({ type: 'account', value: account, name: 'cloud.account_uid' });
  if (userAgent) observables.push({ type: 'user_agent', value: userAgent, name: 'cloud.user_agent' });
  const cls = isLogin ? AUTHENTICATION : API_ACTIVITY;
  return [
    {
      class_uid: cls.class_uid,
      class_name: cls.class_name,
      category_uid: cls.category_uid,
      category_name: cls.category_name,
      source_event_id: eventId,
      time,
      activity_name: eventName,
      severity_id: failed ? 2 : 1,
      status: failed ? 'failure' : 'success',
      status_detail: errorCode
        ? `${errorCode}${errorMessage ? `: ${errorMessage}` : ''}`
        : loginFailed
          ? 'ConsoleLogin Failure'
          : undefined,
      message: `${user?.name ?? 'unknown identity'} called ${eventSource.replace('.amazonaws.com', '')}:${eventName}${failed ? ` (${errorCode ?? 'failed'})` : ''}`,
      cloud: {
        provider: 'aws',
        service: eventSource,
        operation: eventName,
        account_uid: account || undefined,
        region: region || undefined,
        resource_uids: resources,
        user_agent: userAgent || undefined,
        error_code: errorCode || undefined,
        error_message: errorMessage || undefined,
        read_only: readOnly,
      },
      observables,
      metadata: {
        product: 'CloudTrail',
        vendor: 'AWS',
        version: strOf(r.eventVersion, 'eventVersion'),
        log_name: strOf(r.eventType, 'eventType'),
      },
      actor: user ? { user, invoked_by: invokedBy } : undefined,
      src_endpoint: srcEndpoint,
      http: userAgent ? { user_agent: userAgent } : undefined,
      raw: record,
      // Left for finalizeEvent to fill (see EventDraft): the event keeps this literal's shape.
      id: undefined,
      source: undefined,
      ingested_at: undefined,
    },
  ];
}
