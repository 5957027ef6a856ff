import type { Obj } from '../fields.ts';
import { ipOrUndefined, present, prune, pruneOrUndefined } from '../guardduty/draft.ts';
import type { Pieces, Reader } from './reader.ts';

/**
 * Alerts from Wazuh's AWS module (`data.aws.*`): CloudTrail records keep
 * their field names (`eventName`, `userIdentity`, …), GuardDuty findings
 * their wire names (`resource`, `service.action`), Security Hub findings sit
 * in `data.aws.finding` (ASFF). The alert stays a Wazuh alert — Wazuh's rule
 * is the verdict — and these fields fill the cloud context.
 */
export function awsPieces(aws: Obj, rd: Reader): Pieces {
  const f = 'data.aws';
  const s = (key: string) => rd.str(aws, key, `${f}.${key}`);
  const ui = rd.obj(aws, 'userIdentity', `${f}.userIdentity`);
  const asff = rd.obj(aws, 'finding', `${f}.finding`);
  const resource = rd.obj(aws, 'resource', `${f}.resource`);
  const keyDetails = rd.obj(resource, 'accessKeyDetails', `${f}.resource.accessKeyDetails`);
  const instance = rd.obj(resource, 'instanceDetails', `${f}.resource.instanceDetails`);
  const action = rd.obj(rd.obj(aws, 'service', `${f}.service`), 'action', `${f}.service.action`);

  let user: Pieces['user'];
  if (ui) {
    const arn = rd.str(ui, 'arn', `${f}.userIdentity.arn`);
    user = pruneOrUndefined({
      name:
        rd.str(ui, 'userName', `${f}.userIdentity.userName`) ??
        (rd.str(ui, 'type', `${f}.userIdentity.type`) === 'Root'
          ? 'root'
          : arn?.split('/').slice(1).join('/') || undefined),
      uid: rd.str(ui, 'principalId', `${f}.userIdentity.principalId`),
      type: rd.str(ui, 'type', `${f}.userIdentity.type`),
      account_uid: rd.str(ui, 'accountId', `${f}.userIdentity.accountId`),
      credential_uid: rd.str(ui, 'accessKeyId', `${f}.userIdentity.accessKeyId`),
      arn,
    });
  } else if (keyDetails) {
    user = pruneOrUndefined({
      name: rd.str(keyDetails, 'userName', `${f}.resource.accessKeyDetails.userName`),
      uid: rd.str(keyDetails, 'principalId', `${f}.resource.accessKeyDetails.principalId`),
      type: rd.str(keyDetails, 'userType', `${f}.resource.accessKeyDetails.userType`),
      credential_uid: rd.str(keyDetails, 'accessKeyId', `${f}.resource.accessKeyDetails.accessKeyId`),
    });
  }

  // GuardDuty's remote party, whichever action carried it; it is the destination of outbound connections.
  let remote: string | undefined;
  let outbound = false;
  for (const k of [
    'networkConnectionAction',
    'awsApiCallAction',
    'kubernetesApiCallAction',
    'rdsLoginAttemptAction',
  ]) {
    const act = rd.obj(action, k, `${f}.service.action.${k}`);
    const details = rd.obj(act, 'remoteIpDetails', `${f}.service.action.${k}.remoteIpDetails`);
    const ip = ipOrUndefined(
      rd.str(details, 'ipAddressV4', `${f}.service.action.${k}.remoteIpDetails.ipAddressV4`),
    );
    if (ip && !remote) {
      remote = ip;
      outbound =
        rd.str(act, 'connectionDirection', `${f}.service.action.${k}.connectionDirection`) === 'OUTBOUND';
    }
  }
  const sourceIp = s('sourceIPAddress');
  const errorCode = s('errorCode');
  const eventName = s('eventName');
  const instanceId = rd.str(instance, 'instanceId', `${f}.resource.instanceDetails.instanceId`);
  return {
    user,
    src: pruneOrUndefined({
      ip: ipOrUndefined(sourceIp) ?? (outbound ? undefined : remote),
      hostname: present(sourceIp) && !ipOrUndefined(sourceIp) ? sourceIp : undefined,
    }),
    dst: outbound && remote ? { ip: remote } : undefined,
    cloud: prune({
      provider: 'aws',
      account_uid:
        s('aws_account_id') ??
        s('recipientAccountId') ??
        s('accountId') ??
        rd.str(asff, 'AwsAccountId', `${f}.finding.AwsAccountId`),
      region: s('awsRegion') ?? s('region') ?? rd.str(asff, 'Region', `${f}.finding.Region`),
      service: s('eventSource'),
      operation: eventName,
      user_agent: s('userAgent'),
      error_code: errorCode,
      error_message: s('errorMessage'),
    }),
    status: errorCode ? 'failure' : eventName ? 'success' : undefined,
    activity: eventName ?? rd.str(action, 'actionType', `${f}.service.action.actionType`),
    instance: instanceId,
    unmapped: pruneOrUndefined({
      aws: pruneOrUndefined({
        source: s('source'),
        event_id: s('eventID'),
        finding_type: s('type') ?? rd.str(asff, 'Title', `${f}.finding.Title`),
        finding_id: s('id') ?? rd.str(asff, 'Id', `${f}.finding.Id`),
        severity: s('severity'),
        log_file: rd.str(rd.obj(aws, 'log_info', `${f}.log_info`), 'log_file', `${f}.log_info.log_file`),
      }),
    }),
  };
}
