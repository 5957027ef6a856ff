import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { strToU8, zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AisocError } from '../../errors.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { SigmaConfig, SigmaHqConfig } from './config.ts';
import { sigmaDetectors } from './index.ts';
import { checksumFor, curate, installedRulesDir, type UpdateOptions, updateSigmaHq } from './update.ts';

/** `aisoc rules update` on releases made here: zips, checksum files, a local HTTP server. */
const rule = (id: string, status: string, level: string, product = 'windows') => `title: Rule ${id}
id: ${id}
status: ${status}
description: test
logsource: {product: ${product}, category: process_creation}
detection:
  selection: {Image|endswith: '\\\\${id.slice(0, 4)}.exe'}
  condition: selection
level: ${level}
`;
const IDS = {
  stableHigh: '0a1b2c3d-0000-4000-8000-000000000001',
  experimentalHigh: '0a1b2c3d-0000-4000-8000-000000000002',
  testLow: '0a1b2c3d-0000-4000-8000-000000000003',
  deprecated: '0a1b2c3d-0000-4000-8000-000000000004',
  hunting: '0a1b2c3d-0000-4000-8000-000000000005',
  base: '0a1b2c3d-0000-4000-8000-000000000006',
  correlation: '0a1b2c3d-0000-4000-8000-000000000007',
};
const correlationFile = `${rule(IDS.base, 'test', 'informational').replace('title: Rule', 'name: base_rule\ntitle: Rule')}---
title: Many of them
id: ${IDS.correlation}
status: test
description: test
correlation: {type: event_count, rules: [base_rule], group-by: [Computer], timespan: 5m, condition: {gte: 5}}
level: high
`;
const RELEASE: Record<string, Uint8Array> = {
  'rules/windows/stable_high.yml': strToU8(rule(IDS.stableHigh, 'stable', 'high')),
  'rules/windows/experimental_high.yml': strToU8(rule(IDS.experimentalHigh, 'experimental', 'high')),
  'rules/windows/test_low.yml': strToU8(rule(IDS.testLow, 'test', 'low')),
  'rules/windows/correlation.yml': strToU8(correlationFile),
  'rules-emerging-threats/old.yml': strToU8(rule(IDS.deprecated, 'deprecated', 'critical')),
  'rules-threat-hunting/hunt.yml': strToU8(rule(IDS.hunting, 'test', 'high')),
  'README.md': strToU8('# not a rule'),
};
const zip = (files: Record<string, Uint8Array>) => Buffer.from(zipSync(files));
const hex = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

const root = mkdtempSync(join(tmpdir(), 'aisoc-update-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
/** A fresh data directory and a release zip written beside it. */
function setup(files = RELEASE): { dataDir: string; zipFile: string; data: Buffer } {
  const dir = join(root, String(++n));
  const data = zip(files);
  const zipFile = join(root, `sigma_all_rules-${n}.zip`);
  writeFileSync(zipFile, data);
  return { dataDir: join(dir, 'data'), zipFile, data };
}
const update = (o: Partial<UpdateOptions> & { dataDir: string }, config: Record<string, unknown> = {}) =>
  updateSigmaHq({ config: SigmaHqConfig.parse(config), ...o });
const installed = (dataDir: string) =>
  existsSync(installedRulesDir(dataDir))
    ? readdirSync(installedRulesDir(dataDir), { recursive: true })
        .map(String)
        .filter((f) => f.endsWith('.yml'))
        .sort()
    : [];
async function refused(p: Promise<unknown>): Promise<AisocError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AisocError);
  expect((err as AisocError).code).toBe('AISOC_ERR_RULES_UPDATE');
  return err as AisocError;
}

describe('rules update: verification', () => {
  it('installs a zip whose pinned SHA-256 matches, keeping only stable/test rules of medium and above', async () => {
    const { dataDir, zipFile, data } = setup();
    const m = await update({ dataDir, from: zipFile, sha256: hex(data) });
    expect(m).toMatchObject({
      kind: 'zip',
      sha256: hex(data),
      verified_by: 'sha256',
      files_seen: 5,
      files_enabled: 2,
      rules_enabled: 3,
      left_out: { status: 1, level: 1, deprecated: 1, unreadable: 0 },
    });
    // A correlation and its informational base rule come together; threat hunting is not a default collection.
    expect(installed(dataDir)).toEqual(
      ['windows/correlation.yml', 'windows/stable_high.yml'].map((f) => join('rules', f)),
    );
    expect(JSON.parse(readFileSync(join(dataDir, 'sigmahq', 'manifest.json'), 'utf8')).sha256).toBe(
      hex(data),
    );
  });

  it('refuses a release nothing verifies, naming the field and the digest to pin, and installs nothing', async () => {
    const { dataDir, zipFile, data } = setup();
    const err = await refused(update({ dataDir, from: zipFile }));
    expect(err.field).toBe('sha256');
    expect(err.message).toContain(hex(data));
    expect(existsSync(join(dataDir, 'sigmahq'))).toBe(false);
    // Explicitly allowed, it installs, and says so.
    const m = await update({ dataDir, from: zipFile, allowUnverified: true });
    expect(m.verified_by).toBe('unverified');
  });

  it('refuses a mismatch even when unverified releases are allowed, leaving the installed rules as they were', async () => {
    const { dataDir, zipFile, data } = setup();
    await update({ dataDir, from: zipFile, sha256: hex(data) });
    const before = installed(dataDir);
    const other = setup({ 'rules/windows/x.yml': strToU8(rule(IDS.testLow, 'stable', 'critical')) });
    const err = await refused(
      update({ dataDir, from: other.zipFile, sha256: hex(data), allowUnverified: true }),
    );
    expect(err.field).toBe('sha256');
    expect(err.message).toContain('does not match');
    expect(installed(dataDir)).toEqual(before);
    await refused(update({ dataDir, from: zipFile, sha256: 'abc' }));
  });

  it('verifies against a checksum file by file:// URL, by the zip’s name', async () => {
    const { dataDir, zipFile, data } = setup();
    const sums = join(root, `SHA256SUMS-${n}`);
    const name = zipFile.split('/').pop()!;
    writeFileSync(sums, `${'0'.repeat(64)}  other.zip\n${hex(data)}  ${name}\n`);
    const m = await update({
      dataDir,
      from: pathToFileURL(zipFile).href,
      checksum: pathToFileURL(sums).href,
    });
    expect(m.verified_by).toBe('checksum_file');
    writeFileSync(sums, `${'0'.repeat(64)}  ${name}\n`);
    expect((await refused(update({ dataDir, from: zipFile, checksum: sums }))).message).toContain(
      'does not match',
    );
    writeFileSync(sums, `${hex(data)}  a.zip\n${hex(data)}  b.zip\n`);
    expect((await refused(update({ dataDir, from: zipFile, checksum: sums }))).field).toBe('checksum_url');
  });

  it('reads checksum lines as sha256sum writes them (binary mark, one entry)', () => {
    const h = 'a'.repeat(64);
    expect(checksumFor(`${h} *sigma_all_rules.zip\n`, 'sigma_all_rules.zip')).toBe(h);
    expect(checksumFor(`${h}  dist/other.zip\n`, 'mine.zip')).toBe(h);
    expect(checksumFor('not a checksum\n', 'x.zip')).toBeUndefined();
  });
});

describe('rules update: hostile releases', () => {
  it('refuses a zip with an entry that climbs out of its folder, writing nothing', async () => {
    const { dataDir, zipFile, data } = setup({
      ...RELEASE,
      'rules/../../evil.yml': strToU8(rule(IDS.stableHigh, 'stable', 'high')),
    });
    const err = await refused(update({ dataDir, from: zipFile, sha256: hex(data) }));
    expect(err.message).toContain('unsafe path');
    expect(existsSync(join(dataDir, 'sigmahq'))).toBe(false);
    expect(existsSync(join(root, 'evil.yml'))).toBe(false);
  });

  it('refuses more rule content than max_bytes, and a file that is not a zip', async () => {
    const { dataDir, zipFile, data } = setup();
    expect(
      (await refused(update({ dataDir, from: zipFile, sha256: hex(data) }, { max_bytes: 200 }))).field,
    ).toBe('max_bytes');
    const junk = join(root, 'junk.zip');
    writeFileSync(junk, 'this is not a zip');
    expect(
      (await refused(update({ dataDir, from: junk, sha256: hex(Buffer.from('this is not a zip')) }))).message,
    ).toContain('not a readable zip');
    expect(
      (await refused(update({ dataDir, from: join(root, 'missing.zip'), allowUnverified: true }))).field,
    ).toBe('url');
  });

  it('rates a file by all its rules: one experimental or unreadable document leaves the file out', () => {
    const twoDocs = `${rule(IDS.stableHigh, 'stable', 'high')}---\n${rule(IDS.experimentalHigh, 'experimental', 'high')}`;
    expect(curate(twoDocs, ['stable', 'test'], 'medium').verdict).toBe('status');
    expect(curate('title: [unclosed', ['stable'], 'low').verdict).toBe('unreadable');
    expect(curate(rule(IDS.testLow, 'test', 'low'), ['test'], 'low')).toEqual({
      verdict: 'keep',
      documents: 1,
    });
  });
});

describe('rules update over HTTP', () => {
  let server: Server;
  let base: string;
  const { data } = setup();
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/sigma_all_rules.zip') res.end(data);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('downloads, verifies and installs; a 404 and a plain-HTTP remote URL are refused', async () => {
    const dataDir = join(root, 'http', 'data');
    const m = await update({ dataDir, from: `${base}/sigma_all_rules.zip`, sha256: hex(data) });
    expect(m).toMatchObject({ files_enabled: 2, verified_by: 'sha256' });
    expect(
      (await refused(update({ dataDir, from: `${base}/nothing.zip`, sha256: hex(data) }))).message,
    ).toContain('404');
    expect(
      (await refused(update({ dataDir, from: 'http://example.com/x.zip', sha256: hex(data) }))).field,
    ).toBe('url');
  });
});

describe('the Sigma detector and installed SigmaHQ rules', () => {
  it('loads them with the pack from the data directory, unless sigmahq.load is false', async () => {
    const { dataDir, zipFile, data } = setup();
    await update({ dataDir, from: zipFile, sha256: hex(data) });
    const ids = (config: SigmaConfig) =>
      new Set(
        sigmaDetectors(config, silentLogger(), dataDir)
          .flatMap((d) => d.rules?.() ?? [])
          .map((r) => r.id),
      );
    const on = ids(SigmaConfig.parse({}));
    expect(on.has(IDS.stableHigh) && on.has(IDS.correlation)).toBe(true);
    expect(on.has(IDS.experimentalHigh)).toBe(false);
    const off = ids(SigmaConfig.parse({ sigmahq: { load: false } }));
    expect(off.has(IDS.stableHigh)).toBe(false);
    expect(off.size).toBeGreaterThan(50);
  });
});
