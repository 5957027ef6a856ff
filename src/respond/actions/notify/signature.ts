import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * What a notification signature signs first. It separates this use of HMAC
 * from the signatures AI-SOC checks on `POST /webhook` (`aisoc-webhook-v1`):
 * a captured notification never passes there, even if an operator gave both
 * the same secret.
 */
export const NOTIFY_SIGNATURE_CONTEXT = 'aisoc-notify-v1';

/**
 * The notification signature scheme (documented in docs/actions.md):
 *
 *   X-AISOC-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "aisoc-notify-v1.<t>.<raw body>")>
 *
 * The timestamp is signed with the body so a captured request cannot be
 * replayed later; receivers refuse timestamps outside their tolerance.
 *
 * @example
 * const header = signWebhook(secret, Math.floor(Date.now() / 1000), body);
 */
export function signWebhook(secret: string, timestampS: number, body: string): string {
  const mac = createHmac('sha256', secret)
    .update(`${NOTIFY_SIGNATURE_CONTEXT}.${timestampS}.${body}`, 'utf8')
    .digest('hex');
  return `t=${timestampS},v1=${mac}`;
}

/**
 * Check a signature header the way a receiver should: parse `t` and every
 * `v1`, refuse a timestamp more than `toleranceS` away from now, and compare
 * in constant time.
 *
 * @example
 * if (!verifyWebhook(secret, req.headers['x-aisoc-signature'], rawBody)) return res.writeHead(401).end();
 */
export function verifyWebhook(
  secret: string,
  header: string | undefined,
  body: string,
  options: { toleranceS?: number; nowS?: number } = {},
): boolean {
  if (!header) return false;
  let t: number | undefined;
  const sigs: string[] = [];
  for (const part of header.split(',')) {
    const [k, v] = part.trim().split('=', 2);
    if (k === 't' && v && /^\d{1,12}$/.test(v)) t = Number(v);
    else if (k === 'v1' && v && /^[0-9a-f]{64}$/.test(v)) sigs.push(v);
  }
  if (t === undefined || sigs.length === 0) return false;
  const now = options.nowS ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - t) > (options.toleranceS ?? 300)) return false;
  const expected = Buffer.from(signWebhook(secret, t, body).split('v1=')[1]!, 'hex');
  return sigs.some((s) => timingSafeEqual(Buffer.from(s, 'hex'), expected));
}
