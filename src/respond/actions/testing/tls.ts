import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCert {
  key: string;
  cert: string;
  /** Path of the certificate as a PEM file, to pass as `ca_file`. */
  caFile: string;
  cleanup(): void;
}

let cached: TestCert | null | undefined;

/**
 * A fresh self-signed certificate for 127.0.0.1 and localhost, made with the
 * `openssl` command (Node cannot issue certificates itself). `undefined` when
 * openssl is missing: outside CI the TLS tests skip with a message, in CI
 * they fail.
 */
export function testCert(): TestCert | undefined {
  if (cached !== undefined) return cached ?? undefined;
  const dir = mkdtempSync(join(tmpdir(), 'aisoc-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '2',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ],
      { stdio: 'ignore' },
    );
    cached = {
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
      caFile: join(dir, 'cert.pem'),
      cleanup: () => rmSync(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    if (process.env.CI)
      throw new Error(`openssl is required for the TLS tests in CI: ${(err as Error).message}`);
    console.warn('Skipping TLS tests: the openssl command is not available to make a test certificate.');
    cached = null;
  }
  return cached ?? undefined;
}
