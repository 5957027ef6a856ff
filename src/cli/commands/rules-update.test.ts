import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { strToU8, zipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, REPO } from '../../../test/helpers/process.ts';

function aisoc(...args: string[]): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

const rule = (id: string, status: string) => `title: Whoami by ${status} rule
id: ${id}
status: ${status}
description: test
logsource: {product: windows, category: process_creation}
detection:
  selection: {Image|endswith: '\\whoami.exe'}
  condition: selection
level: high
`;

/** `aisoc rules update` end to end: installed when pinned, then loaded by `aisoc detect`. */
describe('aisoc rules update', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aisoc-rules-update-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const data = Buffer.from(
    zipSync({
      'rules/windows/stable.yml': strToU8(rule('7d0c2b1e-0000-4000-8000-0000000000a1', 'stable')),
      'rules/windows/experimental.yml': strToU8(rule('7d0c2b1e-0000-4000-8000-0000000000a2', 'experimental')),
    }),
  );
  const zipFile = join(dir, 'sigma_all_rules.zip');
  writeFileSync(zipFile, data);
  const sha = createHash('sha256').update(data).digest('hex');
  const dataDir = join(dir, 'data');

  it('installs a pinned release, and detect then runs its rules (and not with --no-sigmahq)', () => {
    // Refusals (unverified, mismatched, hostile releases) are tested on the function, in update.test.ts.
    const ok = aisoc('--data-dir', dataDir, 'rules', 'update', '--from', zipFile, '--sha256', sha);
    expect(ok.status).toBe(0);
    expect(ok.stderr).toContain(`Verified (pinned SHA-256) ${zipFile}`);
    expect(ok.stderr).toMatch(/Enabled 1 of 2 rule files \(1 rules; stable, test; level medium and above\)/);

    const events = join(dir, 'events.json');
    writeFileSync(
      events,
      JSON.stringify({
        EventID: 1,
        Channel: 'Microsoft-Windows-Sysmon/Operational',
        SourceName: 'Microsoft-Windows-Sysmon',
        Hostname: 'ws01',
        RecordNumber: 1,
        UtcTime: '2026-03-02 10:00:00.000',
        Image: 'C:\\Windows\\System32\\whoami.exe',
        CommandLine: 'whoami',
      }),
    );
    const titles = (args: string[]) =>
      aisoc('--data-dir', dataDir, 'detect', ...args, events)
        .stdout.trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { rule: { title: string } }).rule.title);
    expect(titles([])).toEqual(['Whoami by stable rule']);
    expect(titles(['--no-sigmahq'])).toEqual([]);
  });
});
