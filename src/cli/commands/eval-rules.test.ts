import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, REPO } from '../../../test/helpers/process.ts';

const FIXTURE = join(REPO, 'src/detect/sigma/fixtures/cloudtrail-mixed.json');

function aisoc(...args: string[]): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

describe('aisoc eval rules', () => {
  it('prints alerts per rule of the scanned sources, zeros included, and a summary', () => {
    const r = aisoc('eval', 'rules', '--format', 'json', FIXTURE);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as {
      events: Record<string, number>;
      rules: Array<{ title: string; alerts: number; sources: string[] }>;
    };
    expect(report.events).toEqual({ cloudtrail: 3 });
    const fired = report.rules.filter((x) => x.alerts > 0).map((x) => x.title);
    expect(fired.sort()).toEqual([
      'Administrator policy attached to an IAM identity',
      'CloudTrail trail stopped or deleted',
    ]);
    expect(report.rules.filter((x) => x.sources.includes('windows')).length).toBeGreaterThan(20);
    expect(r.stderr).toMatch(/2 alerts from 2 of the \d+ rules that read these sources/);

    const md = aisoc('eval', 'rules', '--format', 'markdown', FIXTURE);
    const rows = md.stdout.trim().split('\n');
    expect(rows[0]).toBe('| sources | rule | level | alerts | events cited |');
    // Markdown lists the rules of the scanned source only.
    expect(rows.slice(2).every((row) => row.startsWith('| cloudtrail |'))).toBe(true);
  });

  it('refuses an unknown format, naming the option', () => {
    const r = aisoc('eval', 'rules', '--format', 'html', FIXTURE);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('AISOC_ERR_VALIDATION: --format must be table, markdown or json');
  });
});
