import { isIP } from 'node:net';
import { AisocError } from '../../errors.ts';
import type { LlmContext } from './types.ts';

/**
 * Whether an endpoint URL stays on this machine or a private network:
 * `localhost`, loopback (127/8, ::1), RFC 1918 (10/8, 172.16/12,
 * 192.168/16), carrier-grade NAT (100.64/10), link-local, IPv6 unique-local
 * (fc00::/7) and `*.local`/`*.internal` names. Any other name counts as
 * remote, so pseudonymisation defaults on when in doubt.
 *
 * @example
 * isLocalEndpoint('http://127.0.0.1:11434') // → true
 * isLocalEndpoint('https://api.openai.com/v1') // → false
 */
export function isLocalEndpoint(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (host.endsWith('.local') || host.endsWith('.internal') || host.endsWith('.home.arpa')) return true;
  const family = isIP(host);
  if (family === 4) return isPrivateV4(host);
  if (family === 6) {
    if (host === '::1') return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(host);
    if (mapped) return isPrivateV4(mapped[1]!);
    // URL normalises an IPv4-mapped address to hex: ::ffff:10.0.0.1 becomes ::ffff:a00:1.
    const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
    if (hex) {
      const [hi, lo] = [Number.parseInt(hex[1]!, 16), Number.parseInt(hex[2]!, 16)];
      return isPrivateV4(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`);
    }
    return /^f[cd][0-9a-f]{2}:/.test(host) || /^fe[89ab][0-9a-f]:/.test(host);
  }
  return false;
}

function isPrivateV4(ip: string): boolean {
  const [a, b] = ip.split('.').map(Number) as [number, number];
  return (
    a === 127 ||
    a === 10 ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 100 && b >= 64 && b <= 127) ||
    (a === 169 && b === 254)
  );
}

/**
 * The value of the environment variable a config field names, for secrets.
 * A named variable that is unset or empty is a configuration error (fail
 * fast at start-up rather than send unauthenticated requests).
 */
export function secretFromEnv(ctx: LlmContext, name: string | undefined, field: string): string | undefined {
  if (name === undefined) return undefined;
  const value = (ctx.env ?? process.env)[name];
  if (value === undefined || value === '') {
    throw new AisocError(
      'AISOC_ERR_CONFIG',
      `${field} names the environment variable ${name}, which is not set.`,
      {
        field,
      },
    );
  }
  return value;
}
