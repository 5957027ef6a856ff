import type { EventDraft } from '../../schema/event.ts';
import { type Obj, optBool, optInt, optObj, optPort, optStr } from '../fields.ts';
import { type Built, type Endpoint, objects, optArr, sub } from './context.ts';
import { ipOrUndefined, present, prune, pruneOrUndefined } from './draft.ts';

export interface ActionOut {
  src?: Endpoint;
  dst?: Endpoint;
  network?: EventDraft['network'];
  http?: EventDraft['http'];
  dns?: EventDraft['dns'];
  service?: string;
  operation?: string;
  userAgent?: string;
  errorCode?: string;
  status?: 'success' | 'failure';
  statusDetail?: string;
}

/** The remote party of an action, with its location kept in `unmapped.remote`. */
function remoteOf(d: Obj | undefined, p: string, b: Built): string | undefined {
  if (!d) return undefined;
  const ip = optStr(d, 'ipAddressV4', `${p}.ipAddressV4`) ?? optStr(d, 'ipAddressV6', `${p}.ipAddressV6`);
  const country = sub(d, 'country', `${p}.country`);
  const city = sub(d, 'city', `${p}.city`);
  const org = sub(d, 'organization', `${p}.organization`);
  b.unmapped.remote = pruneOrUndefined({
    ip: ipOrUndefined(ip),
    country: country ? optStr(country, 'countryName', `${p}.country.countryName`) : undefined,
    country_code: country ? optStr(country, 'countryCode', `${p}.country.countryCode`) : undefined,
    city: city ? optStr(city, 'cityName', `${p}.city.cityName`) : undefined,
    asn: org ? optStr(org, 'asn', `${p}.organization.asn`) : undefined,
    as_org: org ? optStr(org, 'asnOrg', `${p}.organization.asnOrg`) : undefined,
    isp: org ? optStr(org, 'isp', `${p}.organization.isp`) : undefined,
  });
  return ipOrUndefined(ip);
}

function port(o: Obj | undefined, key: string, field: string): number | undefined {
  const d = o ? optObj(o, key, `${field}.${key}`) : undefined;
  return d ? optPort(d, 'port', `${field}.${key}.port`) : undefined;
}

function blockedDetail(o: Obj, field: string): string | undefined {
  return optBool(o, 'blocked', `${field}.blocked`) ? 'blocked' : undefined;
}

/** What `service.action` says happened: endpoints, network, DNS, HTTP, the API call and its outcome. */
export function actionOf(
  type: string,
  action: Obj,
  actionType: string | undefined,
  local: Endpoint | undefined,
  p: string,
  b: Built,
): ActionOut {
  switch (actionType) {
    case 'NETWORK_CONNECTION': {
      const f = `${p}.networkConnectionAction`;
      const a = optObj(action, 'networkConnectionAction', f) ?? {};
      const remote = prune({
        ip: remoteOf(sub(a, 'remoteIpDetails', `${f}.remoteIpDetails`), `${f}.remoteIpDetails`, b),
        port: port(a, 'remotePortDetails', f),
      });
      const localIp = sub(a, 'localIpDetails', `${f}.localIpDetails`);
      const here = prune({
        ...local,
        ip:
          ipOrUndefined(
            localIp ? optStr(localIp, 'ipAddressV4', `${f}.localIpDetails.ipAddressV4`) : undefined,
          ) ?? local?.ip,
        port: port(a, 'localPortDetails', f),
      });
      const direction = (optStr(a, 'connectionDirection', `${f}.connectionDirection`) ?? '').toUpperCase();
      const outbound = direction === 'OUTBOUND';
      return {
        src: pruneOrUndefined(outbound ? here : remote),
        dst: pruneOrUndefined(outbound ? remote : here),
        network: prune({
          protocol: optStr(a, 'protocol', `${f}.protocol`)?.toLowerCase(),
          direction: (direction === 'INBOUND' ? 'inbound' : outbound ? 'outbound' : 'unknown') as
            | 'inbound'
            | 'outbound'
            | 'unknown',
        }),
        statusDetail: blockedDetail(a, f),
      };
    }
    case 'PORT_PROBE': {
      const f = `${p}.portProbeAction`;
      const a = optObj(action, 'portProbeAction', f) ?? {};
      const details = objects(a, 'portProbeDetails', `${f}.portProbeDetails`);
      let first: ActionOut = {};
      const ports = new Set<number>();
      const sources = new Set<string>();
      // The first probe stands for the finding; every prober is kept as an observable.
      details.forEach((d, i) => {
        const df = `${f}.portProbeDetails[${i}]`;
        const ip = remoteOf(sub(d, 'remoteIpDetails', `${df}.remoteIpDetails`), `${df}.remoteIpDetails`, b);
        const probed = port(d, 'localPortDetails', df);
        if (probed !== undefined) ports.add(probed);
        if (ip) sources.add(ip);
        if (i === 0)
          first = { src: pruneOrUndefined({ ip }), dst: pruneOrUndefined({ ...local, port: probed }) };
      });
      if (ports.size) b.unmapped.probed_ports = [...ports].sort((x, y) => x - y);
      if (sources.size > 1) {
        b.unmapped.probe_sources = [...sources];
        for (const ip of sources) b.obs.add('ip', ip, 'unmapped.probe_sources');
      }
      return { ...first, network: { direction: 'inbound' }, statusDetail: blockedDetail(a, f) };
    }
    case 'DNS_REQUEST': {
      const f = `${p}.dnsRequestAction`;
      const a = optObj(action, 'dnsRequestAction', f) ?? {};
      const domain = optStr(a, 'domain', `${f}.domain`);
      b.obs.add('domain', domain, 'dns.query');
      return {
        src: local,
        dns: pruneOrUndefined({ query: domain }),
        network: prune({
          protocol: optStr(a, 'protocol', `${f}.protocol`)?.toLowerCase(),
          app_protocol: 'dns',
          direction: 'outbound' as const,
        }),
        statusDetail: blockedDetail(a, f),
      };
    }
    case 'AWS_API_CALL': {
      const f = `${p}.awsApiCallAction`;
      const a = optObj(action, 'awsApiCallAction', f) ?? {};
      const ip = remoteOf(sub(a, 'remoteIpDetails', `${f}.remoteIpDetails`), `${f}.remoteIpDetails`, b);
      const remoteAccount = sub(a, 'remoteAccountDetails', `${f}.remoteAccountDetails`);
      const otherAccount = remoteAccount
        ? optStr(remoteAccount, 'accountId', `${f}.remoteAccountDetails.accountId`)
        : undefined;
      if (otherAccount) {
        b.obs.add('account', otherAccount, 'unmapped.remote_account');
        b.unmapped.remote_account = otherAccount;
      }
      const domain = sub(a, 'domainDetails', `${f}.domainDetails`);
      if (domain)
        b.obs.add('domain', optStr(domain, 'domain', `${f}.domainDetails.domain`), 'unmapped.caller_domain');
      const userAgent = optStr(a, 'userAgent', `${f}.userAgent`);
      b.obs.add('user_agent', userAgent, 'cloud.user_agent');
      const errorCode = optStr(a, 'errorCode', `${f}.errorCode`);
      // `affectedResources` maps a CloudFormation-style type to the ARN the call touched.
      const affected = sub(a, 'affectedResources', `${f}.affectedResources`) ?? {};
      for (const v of Object.values(affected))
        if (typeof v === 'string' && v.startsWith('arn:')) b.resources.add(v);
      b.unmapped.caller_type = optStr(a, 'callerType', `${f}.callerType`);
      return {
        src: pruneOrUndefined({ ip }),
        service: optStr(a, 'serviceName', `${f}.serviceName`),
        operation: optStr(a, 'api', `${f}.api`),
        userAgent,
        errorCode,
        http: pruneOrUndefined({ user_agent: userAgent }),
        status: errorCode ? 'failure' : 'success',
        statusDetail: errorCode,
      };
    }
    case 'KUBERNETES_API_CALL': {
      const f = `${p}.kubernetesApiCallAction`;
      const a = optObj(action, 'kubernetesApiCallAction', f) ?? {};
      const fromDetails = remoteOf(
        sub(a, 'remoteIpDetails', `${f}.remoteIpDetails`),
        `${f}.remoteIpDetails`,
        b,
      );
      const sourceIps = (
        optArr(a, 'sourceIPs', `${f}.sourceIPs`) ??
        optArr(a, 'sourceIps', `${f}.sourceIps`) ??
        []
      ).filter((x): x is string => typeof x === 'string');
      if (sourceIps.length > 1) {
        b.unmapped.source_ips = sourceIps;
        for (const ip of sourceIps) b.obs.add('ip', ip, 'unmapped.source_ips');
      }
      const userAgent = optStr(a, 'userAgent', `${f}.userAgent`);
      b.obs.add('user_agent', userAgent, 'http.user_agent');
      const status = optInt(a, 'statusCode', `${f}.statusCode`);
      const uri = optStr(a, 'requestUri', `${f}.requestUri`);
      return {
        src: pruneOrUndefined({ ip: fromDetails ?? ipOrUndefined(sourceIps[0]) }),
        http: pruneOrUndefined({
          method: optStr(a, 'verb', `${f}.verb`),
          url: uri,
          user_agent: present(userAgent) ? userAgent : undefined,
          status_code: status,
        }),
        network: { app_protocol: 'https' },
        status: status === undefined ? undefined : status < 400 ? 'success' : 'failure',
      };
    }
    case 'RDS_LOGIN_ATTEMPT': {
      const f = `${p}.rdsLoginAttemptAction`;
      const a = optObj(action, 'rdsLoginAttemptAction', f) ?? {};
      const ip = remoteOf(sub(a, 'remoteIpDetails', `${f}.remoteIpDetails`), `${f}.remoteIpDetails`, b);
      // The finding type, not the action, says whether the login worked.
      const status = /Successful(Login|BruteForce)/.test(type)
        ? 'success'
        : /FailedLogin/.test(type)
          ? 'failure'
          : undefined;
      return { src: pruneOrUndefined({ ip }), status };
    }
    default:
      return {};
  }
}
