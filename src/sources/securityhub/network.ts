import type { EventDraft } from '../../schema/event.ts';
import { isObj, type Obj, optObj, optPort, optStr } from '../fields.ts';
import { optArr } from '../guardduty/context.ts';
import { ipOrUndefined, prune, pruneOrUndefined } from '../guardduty/draft.ts';
import type { Endpoint } from './resources.ts';

/** What a finding says happened on the network, from `Network` (preferred) or `Action`. */
export interface Net {
  src?: Endpoint;
  dst?: Endpoint;
  network?: EventDraft['network'];
  dns?: EventDraft['dns'];
  operation?: string;
  service?: string;
  activity?: string;
  remote?: Record<string, unknown>;
}

function remoteOf(d: Obj | undefined, f: string): { ip?: string; geo?: Record<string, unknown> } {
  if (!d) return {};
  const country = optObj(d, 'Country', `${f}.Country`);
  const city = optObj(d, 'City', `${f}.City`);
  const org = optObj(d, 'Organization', `${f}.Organization`);
  const ip = ipOrUndefined(optStr(d, 'IpAddressV4', `${f}.IpAddressV4`));
  return {
    ip,
    geo: pruneOrUndefined({
      ip,
      country: country ? optStr(country, 'CountryName', `${f}.Country.CountryName`) : undefined,
      country_code: country ? optStr(country, 'CountryCode', `${f}.Country.CountryCode`) : undefined,
      city: city ? optStr(city, 'CityName', `${f}.City.CityName`) : undefined,
      asn: org ? optStr(org, 'Asn', `${f}.Organization.Asn`) : undefined,
      as_org: org ? optStr(org, 'AsnOrg', `${f}.Organization.AsnOrg`) : undefined,
      isp: org ? optStr(org, 'Isp', `${f}.Organization.Isp`) : undefined,
    }),
  };
}

function portOf(o: Obj | undefined, key: string, f: string): number | undefined {
  const d = o ? optObj(o, key, `${f}.${key}`) : undefined;
  return d ? optPort(d, 'Port', `${f}.${key}.Port`) : undefined;
}

/**
 * Endpoints and network context: `Network` first (what Security Hub
 * normalised), then `Action` (GuardDuty's detail) for what it left out.
 */
export function networkOf(r: Obj, local: Endpoint | undefined, unmapped: Record<string, unknown>): Net {
  const out: Net = {};
  const action = optObj(r, 'Action');
  const actionType = action ? optStr(action, 'ActionType', 'Action.ActionType') : undefined;
  out.activity = actionType;
  const n = optObj(r, 'Network');
  if (n) {
    const direction = optStr(n, 'Direction', 'Network.Direction');
    out.src = pruneOrUndefined({
      ip: ipOrUndefined(
        optStr(n, 'SourceIpV4', 'Network.SourceIpV4') ?? optStr(n, 'SourceIpV6', 'Network.SourceIpV6'),
      ),
      port: optPort(n, 'SourcePort', 'Network.SourcePort'),
      hostname: optStr(n, 'SourceDomain', 'Network.SourceDomain'),
      mac: optStr(n, 'SourceMac', 'Network.SourceMac'),
    });
    out.dst = pruneOrUndefined({
      ip: ipOrUndefined(
        optStr(n, 'DestinationIpV4', 'Network.DestinationIpV4') ??
          optStr(n, 'DestinationIpV6', 'Network.DestinationIpV6'),
      ),
      port: optPort(n, 'DestinationPort', 'Network.DestinationPort'),
      hostname: optStr(n, 'DestinationDomain', 'Network.DestinationDomain'),
    });
    out.network = pruneOrUndefined({
      protocol: optStr(n, 'Protocol', 'Network.Protocol')?.toLowerCase(),
      direction:
        direction === 'IN' ? ('inbound' as const) : direction === 'OUT' ? ('outbound' as const) : undefined,
    });
  }
  if (!action) return out;
  // `Action` repeats what GuardDuty saw; it fills what `Network` left out and names the API call.
  const nca = optObj(action, 'NetworkConnectionAction', 'Action.NetworkConnectionAction');
  const api = optObj(action, 'AwsApiCallAction', 'Action.AwsApiCallAction');
  const dns = optObj(action, 'DnsRequestAction', 'Action.DnsRequestAction');
  const probe = optObj(action, 'PortProbeAction', 'Action.PortProbeAction');
  if (nca) {
    const f = 'Action.NetworkConnectionAction';
    const remote = remoteOf(optObj(nca, 'RemoteIpDetails', `${f}.RemoteIpDetails`), `${f}.RemoteIpDetails`);
    const outbound = optStr(nca, 'ConnectionDirection', `${f}.ConnectionDirection`) === 'OUTBOUND';
    const there = prune({ ip: remote.ip, port: portOf(nca, 'RemotePortDetails', f) });
    const here = prune({ ...local, port: portOf(nca, 'LocalPortDetails', f) });
    out.src ??= pruneOrUndefined(outbound ? here : there);
    out.dst ??= pruneOrUndefined(outbound ? there : here);
    out.network ??= pruneOrUndefined({
      protocol: optStr(nca, 'Protocol', `${f}.Protocol`)?.toLowerCase(),
      direction: outbound ? ('outbound' as const) : ('inbound' as const),
    });
    out.remote = remote.geo;
  }
  if (api) {
    const f = 'Action.AwsApiCallAction';
    const remote = remoteOf(optObj(api, 'RemoteIpDetails', `${f}.RemoteIpDetails`), `${f}.RemoteIpDetails`);
    out.src ??= pruneOrUndefined({ ip: remote.ip });
    out.operation = optStr(api, 'Api', `${f}.Api`);
    out.service = optStr(api, 'ServiceName', `${f}.ServiceName`);
    out.remote = remote.geo;
    unmapped.caller_type = optStr(api, 'CallerType', `${f}.CallerType`);
  }
  if (dns) {
    const f = 'Action.DnsRequestAction';
    out.dns = pruneOrUndefined({ query: optStr(dns, 'Domain', `${f}.Domain`) });
    out.src ??= local;
    out.network ??= pruneOrUndefined({
      protocol: optStr(dns, 'Protocol', `${f}.Protocol`)?.toLowerCase(),
      app_protocol: 'dns',
      direction: 'outbound' as const,
    });
  }
  if (probe) {
    const f = 'Action.PortProbeAction.PortProbeDetails';
    const first = (optArr(probe, 'PortProbeDetails', f) ?? []).filter(isObj)[0];
    if (first) {
      const remote = remoteOf(
        optObj(first, 'RemoteIpDetails', `${f}[0].RemoteIpDetails`),
        `${f}[0].RemoteIpDetails`,
      );
      out.src ??= pruneOrUndefined({ ip: remote.ip });
      out.dst ??= pruneOrUndefined({ ...local, port: portOf(first, 'LocalPortDetails', `${f}[0]`) });
      out.network ??= { direction: 'inbound' };
      out.remote = remote.geo;
    }
  }
  return out;
}
