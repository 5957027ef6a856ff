import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export interface SigV4Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const hmac = (key: Buffer | string, s: string) => createHmac('sha256', key).update(s, 'utf8').digest();

/** RFC 3986 encoding, as SigV4 wants it (encodeURIComponent leaves !'()* alone). */
function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * Verify an AWS Signature Version 4 `Authorization` header the way AWS
 * does, so the fake Bedrock server accepts only requests the SDK really
 * signed with the test credentials: same credential scope, service,
 * signed headers and signature. Non-S3 services sign the URI path encoded
 * once more (`%3A` in a model id becomes `%253A`). Returns the problems
 * found, empty when the signature is valid.
 */
export function verifySigV4(
  req: { method: string; path: string; headers: IncomingHttpHeaders; rawBody: string },
  creds: SigV4Credentials,
  scope: { region: string; service: string },
): string[] {
  const auth = String(req.headers.authorization ?? '');
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;:-]+), ?Signature=([0-9a-f]{64})$/.exec(
      auth,
    );
  if (!m) return ['Authorization is not an AWS4-HMAC-SHA256 signature'];
  const [, keyId, date, region, service, signedHeaders, signature] = m as unknown as string[];
  const errors: string[] = [];
  if (keyId !== creds.accessKeyId) errors.push('the access key id is not the test credential');
  if (region !== scope.region)
    errors.push(`the credential scope region is ${region}, expected ${scope.region}`);
  if (service !== scope.service)
    errors.push(`the credential scope service is ${service}, expected ${scope.service}`);
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  if (!amzDate.startsWith(date!)) errors.push('x-amz-date does not match the credential scope date');
  if (errors.length) return errors;

  const [rawPath, rawQuery = ''] = req.path.split('?');
  const canonicalUri = rawPath!
    .split('/')
    .map((seg) => rfc3986(seg))
    .join('/');
  const canonicalQuery = rawQuery
    .split('&')
    .filter(Boolean)
    .map((p) => p.split('=').map((x) => rfc3986(decodeURIComponent(x ?? ''))) as [string, string?])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v ?? ''}`)
    .join('&');
  const names = signedHeaders!.split(';');
  // Over HTTP/2 the host travels as the :authority pseudo-header (the SDK then signs `:authority`).
  const header = (n: string) => req.headers[n] ?? (n === 'host' ? req.headers[':authority'] : undefined);
  const canonicalHeaders = names
    .map(
      (n) =>
        `${n}:${String(header(n) ?? '')
          .trim()
          .replace(/\s+/g, ' ')}\n`,
    )
    .join('');
  const payloadHash = String(req.headers['x-amz-content-sha256'] ?? sha256(req.rawBody));
  if (payloadHash !== sha256(req.rawBody) && payloadHash !== 'UNSIGNED-PAYLOAD')
    return ['the payload hash does not match the body'];
  const canonicalRequest = [
    req.method,
    canonicalUri,
    canonicalQuery,
    canonicalHeaders,
    signedHeaders,
    payloadHash,
  ].join('\n');
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    amzDate,
    `${date}/${region}/${service}/aws4_request`,
    sha256(canonicalRequest),
  ].join('\n');
  const key = hmac(
    hmac(hmac(hmac(`AWS4${creds.secretAccessKey}`, date!), region!), service!),
    'aws4_request',
  );
  const expected = createHmac('sha256', key).update(stringToSign, 'utf8').digest();
  const given = Buffer.from(signature!, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return ['the signature does not match'];
  if (!names.includes('host') && !names.includes(':authority')) return ['the host is not signed'];
  return [];
}
