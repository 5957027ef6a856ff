import { networkInterfaces } from 'node:os';
import { z } from 'zod';

/** An IP address in canonical text form, with its value for range arithmetic. */
export interface Ip {
  version: 4 | 6;
  /** Dotted decimal, or RFC 5952 IPv6 (lower case, longest zero run compressed). */
  text: string;
  value: bigint;
}

/** A network in canonical form: `203.0.113.0/24`, `2001:db8::/32`. */
export interface Cidr {
  version: 4 | 6;
  address: string;
  prefix: number;
  text: string;
  value: bigint;
}

function parseV4(s: string): number[] | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    // Leading zeros are refused: some parsers read them as octal, so their meaning is ambiguous.
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out.push(n);
  }
  return out;
}

function parseV6(s: string): number[] | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return undefined;
  let head = s;
  let tail4: number[] | undefined;
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.')) {
    tail4 = parseV4(s.slice(lastColon + 1));
    if (!tail4) return undefined;
    head = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const group = (x: string) => (x === '' ? [] : x.split(':'));
  const left = group(halves[0]!);
  const right = halves.length === 2 ? group(halves[1]!) : [];
  const groups = [...left, ...right];
  if (groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  const missing = 8 - groups.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const words = [...left, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...right].map((g) =>
    Number.parseInt(g, 16),
  );
  if (tail4) {
    words[6] = tail4[0]! * 256 + tail4[1]!;
    words[7] = tail4[2]! * 256 + tail4[3]!;
  }
  return words;
}

function formatV6(words: number[]): string {
  // RFC 5952: compress the longest run (of two or more) of zero groups, the first on a tie.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

const LOW_32 = (1n << 32n) - 1n;

function v4Of(value: bigint): Ip {
  const text = [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 255n)).join('.');
  return { version: 4, text, value };
}

/** Exactly the address written: an IPv4-mapped IPv6 address stays IPv6 (for CIDRs of others' data). */
function parseExact(s: string): Ip | undefined {
  const v4 = parseV4(s);
  if (v4) return { version: 4, text: v4.join('.'), value: v4.reduce((a, b) => (a << 8n) | BigInt(b), 0n) };
  const v6 = parseV6(s);
  if (v6) return { version: 6, text: formatV6(v6), value: v6.reduce((a, b) => (a << 16n) | BigInt(b), 0n) };
  return undefined;
}

/**
 * Parse an IPv4 or IPv6 address into canonical form; `undefined` when it is
 * not one (zone ids, leading zeros and CIDR suffixes are refused). An
 * IPv4-mapped IPv6 address (`::ffff:127.0.0.1`, `::ffff:7f00:1`) is the IPv4
 * address it carries: a dual-stack socket reports IPv4 clients that way, and
 * every decision about an address (internal or external, never-block,
 * blockable) must see one spelling, or `::ffff:127.0.0.1` slips past a rule
 * written for `127.0.0.0/8`.
 *
 * @example parseIp('2001:DB8:0:0::1')?.text // '2001:db8::1'
 * @example parseIp('::ffff:7f00:1')?.text // '127.0.0.1'
 */
export function parseIp(s: string): Ip | undefined {
  const ip = parseExact(s);
  if (ip?.version === 6 && ip.value >> 32n === 0xffffn) return v4Of(ip.value & LOW_32);
  return ip;
}

const bitsOf = (version: 4 | 6) => (version === 4 ? 32 : 128);

/**
 * Parse a CIDR block; refuses host bits below the prefix (`10.0.0.5/24`)
 * because such a rule is almost always a typo for a narrower one.
 *
 * @example parseCidr('203.0.113.0/24')?.text // '203.0.113.0/24'
 */
export function parseCidr(s: string, options: { lenient?: boolean } = {}): Cidr | { error: string } {
  const slash = s.indexOf('/');
  if (slash < 0) return { error: 'must be a CIDR block such as 203.0.113.0/24' };
  // Exact: a block is infrastructure data (security-group rules, nft sets) and keeps the family it was written in.
  const ip = parseExact(s.slice(0, slash));
  if (!ip) return { error: 'must be a CIDR block such as 203.0.113.0/24' };
  const p = s.slice(slash + 1);
  const bits = bitsOf(ip.version);
  if (!/^\d{1,3}$/.test(p) || Number(p) > bits) return { error: `prefix must be 0–${bits}` };
  const prefix = Number(p);
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  if ((ip.value & hostMask) !== 0n) {
    if (!options.lenient) return { error: 'has host bits set below the prefix' };
    // Data written by others (an existing IP set) is read as the network it denotes.
    return { version: ip.version, address: ip.text, prefix, text: s, value: ip.value & ~hostMask };
  }
  return { version: ip.version, address: ip.text, prefix, text: `${ip.text}/${prefix}`, value: ip.value };
}

/** Whether `ip` lies in `cidr`. */
export function cidrContains(cidr: Cidr, ip: Ip): boolean {
  if (cidr.version !== ip.version) return false;
  const shift = BigInt(bitsOf(ip.version) - cidr.prefix);
  return ip.value >> shift === cidr.value >> shift;
}

/** The host network of an address: `/32` or `/128`. */
export function hostCidr(ip: Ip): string {
  return `${ip.text}/${bitsOf(ip.version)}`;
}

/** Input schema for one IP address, normalised to canonical text. */
export const IpAddress = z
  .string()
  .trim()
  .refine((s) => parseIp(s) !== undefined, 'must be an IPv4 or IPv6 address (no prefix, no zone)')
  .transform((s) => parseIp(s)!.text);

/** Input or config schema for a CIDR block, normalised to canonical text. */
export const CidrBlock = z
  .string()
  .trim()
  .superRefine((s, ctx) => {
    const c = parseCidr(s);
    if ('error' in c) ctx.addIssue({ code: 'custom', message: c.error });
  })
  .transform((s) => (parseCidr(s) as Cidr).text);

/**
 * The first of `entries` (CIDR blocks or bare addresses, as others wrote
 * them) that contains `ip`, if any: for never-block lists and for ranges that
 * already cover an address.
 *
 * @example findCovering(['10.0.0.0/8'], parseIp('10.1.2.3')!) // '10.0.0.0/8'
 */
export function findCovering(entries: readonly string[], ip: Ip): string | undefined {
  for (const e of entries) {
    const t = e.trim();
    const parsed = t.includes('/')
      ? parseCidr(t, { lenient: true })
      : (() => {
          const one = parseIp(t);
          return one ? parseCidr(hostCidr(one)) : { error: 'not an address' };
        })();
    if (!('error' in parsed) && cidrContains(unmapCidr(parsed), ip)) return e;
  }
  return undefined;
}

/** `::ffff:10.0.0.0/104` is `10.0.0.0/8`: a block of IPv4-mapped addresses compared with unmapped ones. */
function unmapCidr(c: Cidr): Cidr {
  if (c.version !== 6 || c.prefix < 96 || c.value >> 32n !== 0xffffn) return c;
  const prefix = c.prefix - 96;
  const address = v4Of(c.value & LOW_32).text;
  return { version: 4, address, prefix, text: `${address}/${prefix}`, value: c.value & LOW_32 };
}

/**
 * What kind of address this is, for every internal/external decision and
 * for what may be blocked:
 *
 * - `unspecified`: `0.0.0.0/8` ("this network"), `::`;
 * - `loopback`: `127.0.0.0/8`, `::1`;
 * - `link-local`: `169.254.0.0/16` (cloud metadata endpoints live here), `fe80::/10`;
 * - `multicast`: `224.0.0.0/4`, `ff00::/8`;
 * - `reserved`: `240.0.0.0/4` with the broadcast `255.255.255.255`, and the
 *   deprecated IPv4-compatible `::a.b.c.d` (`::/96`): nothing real sends from them;
 * - `private`: RFC 1918 (`10/8`, `172.16/12`, `192.168/16`) and IPv6 unique local (`fc00::/7`);
 * - `shared`: `100.64.0.0/10`, carrier-grade NAT (RFC 6598), inside the provider;
 * - `public`: everything else, documentation ranges included (they stand in for
 *   internet addresses in examples and tests).
 *
 * @example ipClass(parseIp('::ffff:127.0.0.1')!) // 'loopback'
 */
export type IpClass =
  | 'unspecified'
  | 'loopback'
  | 'link-local'
  | 'multicast'
  | 'reserved'
  | 'private'
  | 'shared'
  | 'public';

const V4_CLASSES: ReadonlyArray<[string, IpClass]> = [
  ['0.0.0.0/8', 'unspecified'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'],
  ['10.0.0.0/8', 'private'],
  ['172.16.0.0/12', 'private'],
  ['192.168.0.0/16', 'private'],
  ['100.64.0.0/10', 'shared'],
];
const V6_CLASSES: ReadonlyArray<[string, IpClass]> = [
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['::/96', 'reserved'],
  ['fe80::/10', 'link-local'],
  ['ff00::/8', 'multicast'],
  ['fc00::/7', 'private'],
];
const compile = (list: ReadonlyArray<[string, IpClass]>) =>
  list.map(([c, cls]) => [parseCidr(c) as Cidr, cls] as const);
const CLASSES = { 4: compile(V4_CLASSES), 6: compile(V6_CLASSES) };

/** The class of an address (see {@link IpClass}); the first matching range wins. */
export function ipClass(ip: Ip): IpClass {
  for (const [cidr, cls] of CLASSES[ip.version]) if (cidrContains(cidr, ip)) return cls;
  return 'public';
}

/**
 * Whether an address belongs inside the organisation rather than the
 * internet: any class but `public`. Text that is not an address is not
 * internal. IPv4-mapped addresses are judged as the IPv4 address they carry.
 *
 * @example isInternalIp('::ffff:10.1.2.3') // true
 * @example isInternalIp('203.0.113.7') // false
 */
export function isInternalIp(text: string): boolean {
  const ip = parseIp(text.trim());
  return ip !== undefined && ipClass(ip) !== 'public';
}

/** Whether an address is on the internet (class `public`); text that is not an address is neither. */
export function isExternalIp(text: string): boolean {
  const ip = parseIp(text.trim());
  return ip !== undefined && ipClass(ip) === 'public';
}

/** RFC 1918 only (`10/8`, `172.16/12`, `192.168/16`), IPv4-mapped included: the ML feature `is_internal_ip`. */
export function isRfc1918(text: string | undefined): boolean {
  const ip = text === undefined ? undefined : parseIp(text.trim());
  return ip?.version === 4 && ipClass(ip) === 'private';
}

/** Classes no block action ever touches: blocking them breaks this host or blocks nobody. */
const UNBLOCKABLE: ReadonlySet<IpClass> = new Set([
  'unspecified',
  'loopback',
  'link-local',
  'multicast',
  'reserved',
]);

/** The addresses of this machine's interfaces, read now (interfaces come and go). */
export function ownAddresses(): Ip[] {
  const out: Ip[] = [];
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) {
      // Link-local addresses carry a zone id (`fe80::1%eth0`) in some Node versions; the class refuses them anyway.
      const ip = parseIp(a.address.split('%')[0]!);
      if (ip) out.push(ip);
    }
  return out;
}

/**
 * Why an address must never be blocked, or `undefined` when it may be:
 * unspecified, loopback, link-local, multicast and reserved addresses, and
 * the addresses of this server itself (`own`, default: its interfaces).
 * IPv4-mapped addresses are judged as IPv4.
 *
 * @example unblockableReason(parseIp('::ffff:7f00:1')!) // '127.0.0.1 is a loopback address'
 */
export function unblockableReason(ip: Ip, own: readonly Ip[] = ownAddresses()): string | undefined {
  const cls = ipClass(ip);
  if (UNBLOCKABLE.has(cls)) return `${ip.text} is ${cls === 'unspecified' ? 'an' : 'a'} ${cls} address`;
  if (own.some((o) => o.version === ip.version && o.value === ip.value))
    return `${ip.text} is an address of this server`;
  return undefined;
}

/**
 * Input schema for an address a block action acts on: an IP address,
 * normalised (IPv4-mapped to IPv4), that {@link unblockableReason} allows.
 */
export const BlockableIp = IpAddress.superRefine((s, ctx) => {
  const why = unblockableReason(parseIp(s)!);
  if (why) ctx.addIssue({ code: 'custom', message: `${why} and is never blocked` });
});
