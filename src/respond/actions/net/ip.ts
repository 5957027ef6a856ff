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

/**
 * Parse an IPv4 or IPv6 address into canonical form; `undefined` when it is
 * not one (zone ids, leading zeros and CIDR suffixes are refused).
 *
 * @example parseIp('2001:DB8:0:0::1')?.text // '2001:db8::1'
 */
export function parseIp(s: string): Ip | undefined {
  const v4 = parseV4(s);
  if (v4) return { version: 4, text: v4.join('.'), value: v4.reduce((a, b) => (a << 8n) | BigInt(b), 0n) };
  const v6 = parseV6(s);
  if (v6) return { version: 6, text: formatV6(v6), value: v6.reduce((a, b) => (a << 16n) | BigInt(b), 0n) };
  return undefined;
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
  const ip = parseIp(s.slice(0, slash));
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
    const parsed = e.includes('/')
      ? parseCidr(e.trim(), { lenient: true })
      : parseCidr(`${e.trim()}/${ip.version === 4 ? 32 : 128}`, { lenient: true });
    if (!('error' in parsed) && cidrContains(parsed, ip)) return e;
  }
  return undefined;
}
