import { createHash } from 'node:crypto';

/**
 * JSON with object keys sorted at every level and `undefined` members left
 * out, so equal values always serialise to the same text.
 *
 * @example canonicalJson({ b: 1, a: [2, { d: 3, c: undefined }] }) // '{"a":[2,{"d":3}],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * The idempotency key of an action run: SHA-256 (hex) of the action type and
 * its input after validation and normalisation (defaults applied, addresses
 * in canonical form), so two requests for the same change share a key.
 *
 * @example actionKey('aws.wafv2.block_ip', { ip: '2001:db8::1' }) // '5c1f…' (64 hex digits)
 */
export function actionKey(type: string, normalisedInput: unknown): string {
  return createHash('sha256')
    .update(type)
    .update('\u0000')
    .update(canonicalJson(normalisedInput))
    .digest('hex');
}
