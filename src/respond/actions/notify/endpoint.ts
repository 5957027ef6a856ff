import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { AisocError } from '../../../errors.ts';
import type { Redactor } from '../redact.ts';

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** Whether a URL is safe to send credentials to: HTTPS, or plain HTTP to this host only. */
export function isSecureUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname));
  } catch {
    return false;
  }
}

/** Config schema for a URL that receives credentials (routing keys, passwords, tokens). */
export const SecureUrl = z.url().refine(isSecureUrl, 'must use https (plain http only to the local host)');

/**
 * Check a destination URL read from a secret: HTTPS, or plain HTTP to the
 * local host only (a relay on the same machine, tests). Its path and query
 * usually carry the credential (Slack, generic webhooks), so both are
 * registered for redaction.
 */
export function checkEndpoint(value: string, field: string, redactor: Redactor): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new AisocError('AISOC_ERR_CONFIG', `The URL named by ${field} is not a URL`, { field });
  }
  if (!isSecureUrl(value))
    throw new AisocError('AISOC_ERR_CONFIG', `The URL named by ${field} must use https`, { field });
  redactor.add(url.pathname + url.search);
  redactor.add(url.search);
  return url;
}

/** Read a PEM CA bundle named in config, failing fast at start-up. */
export function readCa(path: string | undefined, field: string): string | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new AisocError(
      'AISOC_ERR_CONFIG',
      `Cannot read the CA file named by ${field}: ${(err as Error).message}`,
      {
        field,
      },
    );
  }
}
