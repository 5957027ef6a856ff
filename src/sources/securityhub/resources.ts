import type { EventDraft } from '../../schema/event.ts';
import { asObj, type Obj, optObj, optStr } from '../fields.ts';
import { optArr } from '../guardduty/context.ts';
import { ipOrUndefined, type Observables, pruneOrUndefined } from '../guardduty/draft.ts';

export type User = NonNullable<NonNullable<EventDraft['actor']>['user']>;
export type Endpoint = NonNullable<EventDraft['src_endpoint']>;

export interface ResourcesOut {
  uids: string[];
  user?: User;
  device?: Endpoint;
  local?: Endpoint;
}

/** `Resources[]`: their ids, the instance (device) and the identity (actor) they name. */
export function resourcesOf(r: Obj, obs: Observables, unmapped: Record<string, unknown>): ResourcesOut {
  const out: ResourcesOut = { uids: [] };
  const list = optArr(r, 'Resources', 'Resources') ?? [];
  const types: string[] = [];
  list.forEach((item, i) => {
    const f = `Resources[${i}]`;
    const res = asObj(item, f);
    const type = optStr(res, 'Type', `${f}.Type`);
    const id = optStr(res, 'Id', `${f}.Id`);
    if (type) types.push(type);
    if (id) out.uids.push(id);
    const details = optObj(res, 'Details', `${f}.Details`) ?? {};
    if (type === 'AwsEc2Instance') {
      const d = optObj(details, 'AwsEc2Instance', `${f}.Details.AwsEc2Instance`) ?? {};
      const instanceId = id ? /instance\/(i-[0-9a-f]+)/.exec(id)?.[1] : undefined;
      const ips = (optArr(d, 'IpV4Addresses', `${f}.Details.AwsEc2Instance.IpV4Addresses`) ?? []).filter(
        (x): x is string => typeof x === 'string',
      );
      // The first private address is the instance's own; public ones are kept as observables.
      const privateIp = ips.find((ip) => /^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/.test(ip)) ?? ips[0];
      if (!out.device) {
        out.device = pruneOrUndefined({ instance_uid: instanceId, ip: ipOrUndefined(privateIp) });
        out.local = out.device;
        obs.add('ip', out.device?.ip, 'device.ip');
      }
      for (const ip of ips) obs.add('ip', ip, 'unmapped.instance_ips');
      if (ips.length)
        unmapped.instance_ips = [...new Set([...((unmapped.instance_ips as string[]) ?? []), ...ips])];
    } else if (type === 'AwsIamAccessKey') {
      const d = optObj(details, 'AwsIamAccessKey', `${f}.Details.AwsIamAccessKey`) ?? {};
      // GuardDuty names the key in the resource id: `AWS::IAM::AccessKey:ASIA…`.
      const key =
        optStr(d, 'AccessKeyId', `${f}.Details.AwsIamAccessKey.AccessKeyId`) ?? id?.split(':').pop();
      out.user ??= pruneOrUndefined({
        name:
          optStr(d, 'PrincipalName', `${f}.Details.AwsIamAccessKey.PrincipalName`) ??
          optStr(d, 'UserName', `${f}.Details.AwsIamAccessKey.UserName`),
        uid: optStr(d, 'PrincipalId', `${f}.Details.AwsIamAccessKey.PrincipalId`),
        type: optStr(d, 'PrincipalType', `${f}.Details.AwsIamAccessKey.PrincipalType`),
        credential_uid: key && /^A[KS]IA[A-Z0-9]{12,}$/.test(key) ? key : undefined,
        account_uid:
          optStr(d, 'AccountId', `${f}.Details.AwsIamAccessKey.AccountId`) ?? optStr(r, 'AwsAccountId'),
      });
    } else if (type === 'AwsIamUser') {
      const d = optObj(details, 'AwsIamUser', `${f}.Details.AwsIamUser`) ?? {};
      out.user ??= pruneOrUndefined({
        name: optStr(d, 'UserName', `${f}.Details.AwsIamUser.UserName`),
        uid: optStr(d, 'UserId', `${f}.Details.AwsIamUser.UserId`),
        type: 'IAMUser',
        arn: id?.startsWith('arn:') ? id : undefined,
      });
    } else if (type === 'AwsIamRole') {
      const d = optObj(details, 'AwsIamRole', `${f}.Details.AwsIamRole`) ?? {};
      out.user ??= pruneOrUndefined({
        name: optStr(d, 'RoleName', `${f}.Details.AwsIamRole.RoleName`),
        uid: optStr(d, 'RoleId', `${f}.Details.AwsIamRole.RoleId`),
        type: 'Role',
        arn: id?.startsWith('arn:') ? id : undefined,
      });
    }
  });
  if (types.length) unmapped.resource_types = [...new Set(types)];
  return out;
}
