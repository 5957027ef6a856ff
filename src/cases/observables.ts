import { isInternalIp } from '../net/ip.ts';
import type { CaseObservable } from '../schema/case.ts';
import type { NormalisedEvent } from '../schema/event.ts';

// The one classifier lives in src/net/ip.ts; re-exported for the modules that import it from here.
export { isInternalIp };

/**
 * Observables of a case from its events. External addresses, domains, URLs,
 * hashes and credentials are marked as indicators (IOCs); internal addresses
 * and user names are kept as context.
 */
export function extractObservables(events: NormalisedEvent[], max = 500): CaseObservable[] {
  const out = new Map<string, CaseObservable>();
  const add = (type: string, value: string | undefined, eventId: string, ioc: boolean) => {
    if (!value || value === '-' || out.size >= max) return;
    const key = `${type}:${value.toLowerCase()}`;
    const prev = out.get(key);
    if (prev) {
      prev.ioc ||= ioc;
      return;
    }
    out.set(key, { type, value, event_id: eventId, ioc });
  };
  for (const e of events) {
    for (const o of e.observables) {
      switch (o.type) {
        case 'ip':
          add('ip', o.value, e.id, !isInternalIp(o.value));
          break;
        case 'domain':
        case 'url':
        case 'hash':
        case 'email':
          add(o.type, o.value, e.id, true);
          break;
        case 'access_key':
          add('access_key', o.value, e.id, true);
          break;
        case 'user':
        case 'host':
        case 'account':
        case 'instance':
          add(o.type, o.value, e.id, false);
          break;
        case 'user_agent':
          add('user_agent', o.value, e.id, false);
          break;
        default:
          break;
      }
    }
    for (const ip of [e.src_endpoint?.ip, e.dst_endpoint?.ip]) if (ip) add('ip', ip, e.id, !isInternalIp(ip));
    if (e.actor?.user?.name) add('user', e.actor.user.name, e.id, false);
    if (e.actor?.user?.credential_uid) add('access_key', e.actor.user.credential_uid, e.id, true);
    if (e.device?.hostname) add('host', e.device.hostname, e.id, false);
    for (const h of Object.values(e.file?.hashes ?? {})) add('hash', h, e.id, true);
    for (const h of Object.values(e.process?.hashes ?? {})) add('hash', h, e.id, true);
    if (e.dns?.query) add('domain', e.dns.query, e.id, true);
    if (e.http?.url) add('url', e.http.url, e.id, true);
  }
  return [...out.values()];
}
