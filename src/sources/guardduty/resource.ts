import { type Obj, optObj, optStr } from '../fields.ts';
import { type Built, type Endpoint, objects, sub, type User } from './context.ts';
import { ipOrUndefined, pruneOrUndefined } from './draft.ts';

export interface ResourceOut {
  user?: User;
  device?: Endpoint;
  /** The affected instance as a network endpoint (for connections and probes). */
  local?: Endpoint;
}

/** The affected resource: who acted (access key, Kubernetes or database user), which instance, which ARNs. */
export function resourceOf(
  resource: Obj,
  where: { account?: string; region?: string; partition: string },
  p: string,
  b: Built,
): ResourceOut {
  const out: ResourceOut = {};
  const key = optObj(resource, 'accessKeyDetails', `${p}.accessKeyDetails`);
  if (key) {
    out.user = pruneOrUndefined({
      name: optStr(key, 'userName', `${p}.accessKeyDetails.userName`),
      uid: optStr(key, 'principalId', `${p}.accessKeyDetails.principalId`),
      type: optStr(key, 'userType', `${p}.accessKeyDetails.userType`),
      credential_uid: optStr(key, 'accessKeyId', `${p}.accessKeyDetails.accessKeyId`),
      account_uid: where.account,
    });
  }

  const inst = optObj(resource, 'instanceDetails', `${p}.instanceDetails`);
  if (inst) {
    const instanceId = optStr(inst, 'instanceId', `${p}.instanceDetails.instanceId`);
    const nic = objects(inst, 'networkInterfaces', `${p}.instanceDetails.networkInterfaces`)[0];
    const nicField = `${p}.instanceDetails.networkInterfaces[0]`;
    const privateIp = nic ? optStr(nic, 'privateIpAddress', `${nicField}.privateIpAddress`) : undefined;
    const publicIp = nic ? optStr(nic, 'publicIp', `${nicField}.publicIp`) : undefined;
    const hostname = nic ? optStr(nic, 'privateDnsName', `${nicField}.privateDnsName`) : undefined;
    out.device = pruneOrUndefined({ instance_uid: instanceId, hostname, ip: ipOrUndefined(privateIp) });
    out.local = pruneOrUndefined({ instance_uid: instanceId, ip: ipOrUndefined(privateIp) });
    b.obs.add('ip', privateIp, 'device.ip');
    b.obs.add('ip', publicIp, 'unmapped.instance.public_ip');
    if (instanceId && where.account && where.region) {
      b.resources.add(`arn:${where.partition}:ec2:${where.region}:${where.account}:instance/${instanceId}`);
    }
    const profile = optObj(inst, 'iamInstanceProfile', `${p}.instanceDetails.iamInstanceProfile`);
    const profileArn = profile
      ? optStr(profile, 'arn', `${p}.instanceDetails.iamInstanceProfile.arn`)
      : undefined;
    if (profileArn?.startsWith('arn:')) b.resources.add(profileArn);
    b.unmapped.instance = pruneOrUndefined({
      public_ip: ipOrUndefined(publicIp),
      vpc_id: nic ? optStr(nic, 'vpcId', `${nicField}.vpcId`) : undefined,
      subnet_id: nic ? optStr(nic, 'subnetId', `${nicField}.subnetId`) : undefined,
      image_id: optStr(inst, 'imageId', `${p}.instanceDetails.imageId`),
      type: optStr(inst, 'instanceType', `${p}.instanceDetails.instanceType`),
      tags: tagsOf(objects(inst, 'tags', `${p}.instanceDetails.tags`)),
    });
  }

  // Only real ARNs: sample findings carry placeholders such as "EKSClusterArn".
  const arnOf = (o: Obj | undefined, k: string, field: string) => {
    const arn = o ? optStr(o, k, field) : undefined;
    if (arn?.startsWith('arn:')) b.resources.add(arn);
  };
  objects(resource, 's3BucketDetails', `${p}.s3BucketDetails`).forEach((s, i) => {
    arnOf(s, 'arn', `${p}.s3BucketDetails[${i}].arn`);
  });
  const eks = optObj(resource, 'eksClusterDetails', `${p}.eksClusterDetails`);
  arnOf(eks, 'arn', `${p}.eksClusterDetails.arn`);
  const ecs = optObj(resource, 'ecsClusterDetails', `${p}.ecsClusterDetails`);
  arnOf(ecs, 'arn', `${p}.ecsClusterDetails.arn`);
  const lambda = optObj(resource, 'lambdaDetails', `${p}.lambdaDetails`);
  arnOf(lambda, 'functionArn', `${p}.lambdaDetails.functionArn`);
  const rds = optObj(resource, 'rdsDbInstanceDetails', `${p}.rdsDbInstanceDetails`);
  arnOf(rds, 'dbInstanceArn', `${p}.rdsDbInstanceDetails.dbInstanceArn`);
  if (rds) {
    b.unmapped.rds = pruneOrUndefined({
      instance: optStr(rds, 'dbInstanceIdentifier', `${p}.rdsDbInstanceDetails.dbInstanceIdentifier`),
      cluster: optStr(rds, 'dbClusterIdentifier', `${p}.rdsDbInstanceDetails.dbClusterIdentifier`),
      engine: optStr(rds, 'engine', `${p}.rdsDbInstanceDetails.engine`),
    });
  }
  if (eks) b.unmapped.cluster = optStr(eks, 'name', `${p}.eksClusterDetails.name`);

  // Kubernetes and database users are the actor when no AWS credential is named.
  const k8s = sub(
    optObj(resource, 'kubernetesDetails', `${p}.kubernetesDetails`),
    'kubernetesUserDetails',
    `${p}.kubernetesDetails.kubernetesUserDetails`,
  );
  if (k8s && !out.user) {
    out.user = pruneOrUndefined({
      name: optStr(k8s, 'username', `${p}.kubernetesDetails.kubernetesUserDetails.username`),
      uid: optStr(k8s, 'uid', `${p}.kubernetesDetails.kubernetesUserDetails.uid`),
      type: 'KubernetesUser',
    });
  }
  const dbUser = optObj(resource, 'rdsDbUserDetails', `${p}.rdsDbUserDetails`);
  if (dbUser && !out.user) {
    out.user = pruneOrUndefined({
      name: optStr(dbUser, 'user', `${p}.rdsDbUserDetails.user`),
      type: 'DatabaseUser',
    });
  }
  const container = optObj(resource, 'containerDetails', `${p}.containerDetails`);
  if (container) {
    b.unmapped.container = pruneOrUndefined({
      id: optStr(container, 'id', `${p}.containerDetails.id`),
      name: optStr(container, 'name', `${p}.containerDetails.name`),
      image: optStr(container, 'image', `${p}.containerDetails.image`),
    });
  }
  return out;
}

function tagsOf(tags: Obj[]): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const t of tags) {
    if (typeof t.key === 'string' && typeof t.value === 'string') out[t.key] = t.value;
  }
  return Object.keys(out).length ? out : undefined;
}
