import { parseIp } from '../net/ip.ts';
import type { Entity, EntityType } from '../schema/common.ts';
import type { NormalisedEvent } from '../schema/event.ts';

/**
 * One spelling per entity: an address in its canonical form, IPv4-mapped
 * IPv6 as the IPv4 address it carries (`::ffff:10.0.0.5` and `10.0.0.5` are
 * one attacker, one incident, one suppression).
 *
 * @example canonicalEntityValue('ip', '::FFFF:7f00:1') // '127.0.0.1'
 */
export function canonicalEntityValue(type: EntityType | string, value: string): string {
  const v = value.trim();
  if (type === 'ip') return parseIp(v)?.text ?? v;
  return v;
}

function add(out: Map<string, Entity>, type: EntityType, value: string | undefined): void {
  if (!value) return;
  const v = canonicalEntityValue(type, value);
  if (!v || v === '-' || v === 'unknown') return;
  out.set(`${type}:${v.toLowerCase()}`, { type, value: v });
}

/** The entities an event is about: who acted, from where, on which host or instance, with which credential. */
export function eventEntities(e: NormalisedEvent): Entity[] {
  const out = new Map<string, Entity>();
  const user = e.actor?.user;
  add(out, 'user', user?.name);
  add(out, 'access_key', user?.credential_uid);
  add(out, 'account', e.cloud?.account_uid);
  add(out, 'ip', e.src_endpoint?.ip);
  add(out, 'ip', e.dst_endpoint?.ip);
  add(out, 'host', e.device?.hostname);
  add(out, 'host', e.src_endpoint?.hostname);
  add(out, 'host', e.dst_endpoint?.hostname);
  add(out, 'instance', e.src_endpoint?.instance_uid);
  add(out, 'instance', e.dst_endpoint?.instance_uid);
  add(out, 'instance', e.device?.instance_uid);
  add(out, 'process', e.process?.path ?? e.process?.name);
  add(out, 'file', e.file?.path);
  add(out, 'domain', e.dns?.query);
  return [...out.values()];
}

/** Entities of several events, deduplicated. */
export function mergeEntities(lists: Entity[][]): Entity[] {
  const out = new Map<string, Entity>();
  for (const list of lists) for (const en of list) out.set(`${en.type}:${en.value.toLowerCase()}`, en);
  return [...out.values()];
}

export function entityKey(en: Entity): string {
  return `${en.type}:${canonicalEntityValue(en.type, en.value).toLowerCase()}`;
}
