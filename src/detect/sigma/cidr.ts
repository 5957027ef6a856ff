/**
 * CIDR ranges for the `cidr` modifier, IPv4 and IPv6. Addresses are parsed
 * into 128-bit integers (IPv4 as IPv4-mapped IPv6), so one comparison serves
 * both families and `::ffff:10.1.2.3` falls inside `10.0.0.0/8`.
 */

const V4_MAPPED = 0xffffn << 32n;

/** Parse an IPv4 or IPv6 address into a 128-bit integer; undefined when it is not one. */
export function parseIp(s: string): bigint | undefined {
  const str = s.trim();
  if (str.includes(':')) return parseV6(str);
  const v4 = parseV4(str);
  return v4 === undefined ? undefined : V4_MAPPED | BigInt(v4);
}

function parseV4(s: string): number | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

function parseV6(input: string): bigint | undefined {
  let s = input;
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const lastColon = s.lastIndexOf(':');
  const maybeV4 = s.slice(lastColon + 1);
  if (maybeV4.includes('.')) {
    // An embedded IPv4 tail (::ffff:1.2.3.4) becomes its two 16-bit groups.
    const v4 = parseV4(maybeV4);
    if (v4 === undefined) return undefined;
    s = `${s.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const parse = (h: string) => (h === '' ? [] : h.split(':'));
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  const groups: number[] = [];
  for (const g of [...head, ...rest]) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return undefined;
    groups.push(Number.parseInt(g, 16));
  }
  const total = groups.length;
  let words: number[];
  if (halves.length === 2) {
    if (total > 7) return undefined;
    const headNums = head.map((g) => Number.parseInt(g, 16));
    const restNums = rest.map((g) => Number.parseInt(g, 16));
    words = [...headNums, ...new Array<number>(8 - total).fill(0), ...restNums];
  } else {
    if (total !== 8) return undefined;
    words = groups;
  }
  let n = 0n;
  for (const w of words) n = (n << 16n) | BigInt(w);
  return n;
}

export interface CidrRange {
  base: bigint;
  mask: bigint;
  text: string;
}

const ALL = (1n << 128n) - 1n;

/** Parse `10.0.0.0/8` or `fe80::/10` (a bare address is a /32 or /128). */
export function parseCidr(text: string): CidrRange | undefined {
  const [addr, bitsText] = text.trim().split('/');
  if (addr === undefined) return undefined;
  const base = parseIp(addr);
  if (base === undefined) return undefined;
  const isV4 = !addr.includes(':');
  const maxBits = isV4 ? 32 : 128;
  const bits = bitsText === undefined ? maxBits : Number(bitsText);
  if (!Number.isInteger(bits) || bits < 0 || bits > maxBits) return undefined;
  const prefix = (isV4 ? 96 : 0) + bits;
  const mask = prefix === 0 ? 0n : (ALL << BigInt(128 - prefix)) & ALL;
  return { base: base & mask, mask, text };
}

/**
 * A test of an address string against CIDR ranges.
 *
 * @example cidrTest([parseCidr('10.0.0.0/8')!])('10.1.2.3') // true
 */
export function cidrTest(ranges: readonly CidrRange[]): (s: string) => boolean {
  return (s) => {
    const ip = parseIp(s);
    if (ip === undefined) return false;
    for (const r of ranges) if ((ip & r.mask) === r.base) return true;
    return false;
  };
}
