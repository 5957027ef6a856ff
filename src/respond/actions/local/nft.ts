import { parseCidr, parseIp } from '../../../net/ip.ts';

/** Where the block list lives: a table, a base chain and one set per address family. */
export interface NftTarget {
  family: 'inet' | 'ip' | 'ip6';
  table: string;
  chain: string;
  hook: 'input' | 'forward' | 'prerouting';
  priority: number;
  set_v4: string;
  set_v6: string;
  element_timeout_s?: number;
}

/** The sets a family can hold: `inet` both, `ip` IPv4, `ip6` IPv6. */
export function setsOf(t: NftTarget): Array<{ version: 4 | 6; name: string; type: string; proto: string }> {
  const out: Array<{ version: 4 | 6; name: string; type: string; proto: string }> = [];
  if (t.family !== 'ip6') out.push({ version: 4, name: t.set_v4, type: 'ipv4_addr', proto: 'ip' });
  if (t.family !== 'ip') out.push({ version: 6, name: t.set_v6, type: 'ipv6_addr', proto: 'ip6' });
  return out;
}

/**
 * The script (`nft -f -`) that creates the table, the base chain and the
 * sets. Every statement is `add`, which leaves existing objects as they are,
 * so running it again changes nothing. Identifiers are checked by the
 * config schema before they get here.
 *
 * @example nftSetupScript(target) // 'add table inet aisoc\nadd chain inet aisoc input { type filter hook input priority -10 ; policy accept ; }\n…'
 */
export function nftSetupScript(t: NftTarget): string {
  const flags = t.element_timeout_s ? ' flags timeout ;' : '';
  const lines = [
    `add table ${t.family} ${t.table}`,
    `add chain ${t.family} ${t.table} ${t.chain} { type filter hook ${t.hook} priority ${t.priority} ; policy accept ; }`,
    ...setsOf(t).map((s) => `add set ${t.family} ${t.table} ${s.name} { type ${s.type} ;${flags} }`),
  ];
  return `${lines.join('\n')}\n`;
}

/** Argument arrays for nft: never a shell string. */
export const nftArgs = {
  listSet: (t: NftTarget, set: string) => ['-j', 'list', 'set', t.family, t.table, set],
  listChain: (t: NftTarget) => ['-j', 'list', 'chain', t.family, t.table, t.chain],
  setup: () => ['-f', '-'],
  rule: (t: NftTarget, proto: string, set: string) => [
    'add',
    'rule',
    t.family,
    t.table,
    t.chain,
    proto,
    'saddr',
    `@${set}`,
    'counter',
    'drop',
  ],
  addElement: (t: NftTarget, set: string, ip: string) => [
    'add',
    'element',
    t.family,
    t.table,
    set,
    `{ ${ip}${t.element_timeout_s ? ` timeout ${t.element_timeout_s}s` : ''} }`,
  ],
  deleteElement: (t: NftTarget, set: string, ip: string) => [
    'delete',
    'element',
    t.family,
    t.table,
    set,
    `{ ${ip} }`,
  ],
};

/** One element of a set, as `nft -j` prints it. */
type NftElem =
  | string
  | { prefix: { addr: string; len: number } }
  | { range: [string, string] }
  | { elem: { val: NftElem } };

/** An element as a CIDR text (`1.2.3.4/32`, `10.0.0.0/8`) or a range. */
export type SetEntry = { cidr: string } | { from: string; to: string };

function entryOf(e: NftElem): SetEntry | undefined {
  if (typeof e === 'string') {
    const ip = parseIp(e);
    return ip ? { cidr: `${ip.text}/${ip.version === 4 ? 32 : 128}` } : undefined;
  }
  if ('prefix' in e) return { cidr: `${e.prefix.addr}/${e.prefix.len}` };
  if ('range' in e) return { from: e.range[0], to: e.range[1] };
  if ('elem' in e) return entryOf(e.elem.val);
  return undefined;
}

/** The elements of `nft -j list set …` output. */
export function parseSetElements(json: string): SetEntry[] {
  const doc = JSON.parse(json) as { nftables?: Array<{ set?: { elem?: NftElem[] } }> };
  const set = doc.nftables?.find((x) => x.set)?.set;
  return (set?.elem ?? []).map(entryOf).filter((x): x is SetEntry => x !== undefined);
}

/** Whether a set entry is exactly this address, or covers it. */
export function entryMatch(entry: SetEntry, ipText: string): 'exact' | 'covers' | undefined {
  const ip = parseIp(ipText);
  if (!ip) return undefined;
  if ('cidr' in entry) {
    const c = parseCidr(entry.cidr, { lenient: true });
    if ('error' in c || c.version !== ip.version) return undefined;
    const shift = BigInt((ip.version === 4 ? 32 : 128) - c.prefix);
    if (ip.value >> shift !== c.value >> shift) return undefined;
    return c.prefix === (ip.version === 4 ? 32 : 128) ? 'exact' : 'covers';
  }
  const lo = parseIp(entry.from);
  const hi = parseIp(entry.to);
  if (!lo || !hi || lo.version !== ip.version) return undefined;
  return ip.value >= lo.value && ip.value <= hi.value ? 'covers' : undefined;
}

/** Whether `nft -j list chain …` output has a rule that matches the set and drops. */
export function chainHasDropRule(json: string, set: string): boolean {
  const doc = JSON.parse(json) as { nftables?: Array<{ rule?: { expr?: unknown[] } }> };
  return (doc.nftables ?? []).some((x) => {
    if (!x.rule) return false;
    const expr = JSON.stringify(x.rule.expr ?? []);
    return expr.includes(`"@${set}"`) && expr.includes('"drop"');
  });
}
