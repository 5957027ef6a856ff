/**
 * Small readers for Windows event values, which arrive as strings in one
 * export and numbers in another, with `-` standing for "none".
 */

/** A non-empty string form of a scalar; undefined for `-`, empty, null, objects. */
export function text(v: unknown): string | undefined {
  if (typeof v === 'string') {
    const t = v.trim();
    return t === '' || t === '-' ? undefined : v;
  }
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v === 'boolean') return String(v);
  return undefined;
}

/** A process id written in decimal (Sysmon) or hex `0x1d20` (Security auditing). */
export function pidOf(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  // text()'s rule for the rest: only strings (booleans never read as a number), `-` and blank are none.
  if (typeof v !== 'string') return undefined;
  const t = v.trim();
  // 1–16 digits, or 0x and 1–16 hex digits, read by hand: regular expressions cost more than the
  // reading, and this runs for each process of every event.
  let n: number;
  if (t.length >= 3 && t.charCodeAt(0) === 48 && (t.charCodeAt(1) | 32) === 120) {
    if (t.length > 18 || !allDigits(t, 2, true)) return undefined;
    n = Number.parseInt(t, 16);
  } else {
    if (t.length === 0 || t.length > 16 || !allDigits(t, 0, false)) return undefined;
    n = Number(t);
  }
  return Number.isSafeInteger(n) && n <= 0xffffffff ? n : undefined;
}

/** Whether `t` from `from` on is all decimal (or, with `hex`, hexadecimal) digits. */
function allDigits(t: string, from: number, hex: boolean): boolean {
  for (let i = from; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c >= 48 && c <= 57) continue;
    const l = c | 32;
    if (hex && l >= 97 && l <= 102) continue;
    return false;
  }
  return true;
}

/** A port number 0–65535, or undefined (for `-`, `0` from Security events stays 0). */
export function portOf(v: unknown): number | undefined {
  const t = text(v)?.trim();
  if (!t || !/^\d{1,5}$/.test(t)) return undefined;
  const n = Number(t);
  return n <= 65535 ? n : undefined;
}

/** An IP address field, dropping the placeholders Windows writes when there is none. */
export function ipOf(v: unknown): string | undefined {
  const t = text(v)?.trim();
  if (!t) return undefined;
  // Security events write IPv4-mapped IPv6 (`::ffff:10.0.0.5`); the IPv4 form correlates with other sources.
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(t);
  if (mapped) return mapped[1];
  return /^[0-9a-f:.%]+$/i.test(t) && /[.:]/.test(t) ? t : undefined;
}

/** The last path segment of a Windows or POSIX path. */
export function baseName(path: string): string {
  const i = Math.max(path.lastIndexOf('\\'), path.lastIndexOf('/'));
  return i >= 0 ? path.slice(i + 1) : path;
}

/** `DOMAIN\user` → `{ domain, name }`; a bare name has no domain. */
export function splitAccount(v: unknown): { name: string; domain?: string } | undefined {
  const t = text(v);
  if (!t) return undefined;
  const i = t.indexOf('\\');
  if (i < 0) return { name: t };
  const name = t.slice(i + 1);
  return name ? { name, domain: t.slice(0, i) } : undefined;
}

/**
 * Sysmon's `Hashes` (`SHA1=…,MD5=…,SHA256=…,IMPHASH=…`) as algorithm →
 * digest, algorithm names in lower case.
 */
export function parseHashes(v: unknown): Record<string, string> | undefined {
  const t = text(v);
  if (!t) return undefined;
  const out: Record<string, string> = {};
  for (const part of t.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const algo = part.slice(0, eq).trim().toLowerCase();
    const digest = part.slice(eq + 1).trim();
    if (/^[a-z0-9]{2,16}$/.test(algo) && /^[0-9a-f]{8,128}$/i.test(digest)) out[algo] = digest;
  }
  return Object.keys(out).length ? out : undefined;
}

/** Whether a Sysmon/Security boolean-ish value (`true`, `True`, `1`) is true. */
export function truthy(v: unknown): boolean {
  return v === true || v === 1 || (typeof v === 'string' && /^(true|1|yes)$/i.test(v.trim()));
}

const PROTOCOLS: Record<string, string> = { '1': 'icmp', '6': 'tcp', '17': 'udp', '58': 'icmpv6' };

/** A transport protocol from its IANA number (Security events) or name (Sysmon). */
export function protocolOf(v: unknown): string | undefined {
  const t = text(v)?.trim().toLowerCase();
  if (!t) return undefined;
  return PROTOCOLS[t] ?? (/^[a-z][a-z0-9-]{0,15}$/.test(t) ? t : undefined);
}
