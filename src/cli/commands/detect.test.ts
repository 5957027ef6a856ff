import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, REPO } from '../../../test/helpers/process.ts';

const FIXTURES = join(REPO, 'src/detect/sigma/fixtures');
const OWN_FIXTURES = join(REPO, 'src/cli/commands/fixtures');

interface Line {
  rule: { id: string; title: string; level: string; engine: string };
  rule_level?: string;
  level_reasons?: string[];
  rarity?: { verdict: string; score: number; identity: string };
  events: Array<{ source: string; id: string }>;
}
const lines = (stdout: string): Line[] =>
  stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Line);

/** Run the real CLI; stdout, stderr and the exit code. */
function aisoc(...args: string[]): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

describe('aisoc detect', () => {
  it('prints one JSON line per alert with the source ids, and a summary; bad records do not stop the scan', () => {
    const r = aisoc('detect', join(FIXTURES, 'cloudtrail-mixed.json'));
    expect(r.status).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as {
            rule: { title: string; level: string; tags: string[] };
            events: Array<{ source: string; id: string }>;
          },
      );
    expect(lines.map((l) => l.rule.title).sort()).toEqual([
      'Administrator policy attached to an IAM identity',
      'CloudTrail trail stopped or deleted',
    ]);
    const stop = lines.find((l) => l.rule.title.startsWith('CloudTrail'))!;
    expect(stop.rule.level).toBe('high');
    expect(stop.rule.tags).toContain('attack.t1562.008');
    expect(stop.events).toEqual([
      expect.objectContaining({ source: 'cloudtrail', id: '5e0c1f1a-0000-4000-8000-00000000a001' }),
    ]);
    expect(r.stderr).toMatch(/3 events, 1 bad records/);
    expect(r.stderr).toMatch(/2 alerts \(2 high\)/);
  });

  it('reads concatenated EVTX-as-JSON, adds --rules directories and reports the rule that does not load', () => {
    const r = aisoc(
      'detect',
      '--no-builtin',
      '--rules',
      join(FIXTURES, 'rules'),
      '--format',
      'table',
      join(FIXTURES, 'evtx-concatenated.json'),
    );
    expect(r.status).toBe(0);
    const rows = r.stdout.trim().split('\n');
    expect(rows[0]).toMatch(/^TIME\s+LEVEL\s+RULE/);
    expect(rows).toHaveLength(2);
    expect(rows[1]).toContain('Whoami run by a user');
    expect(rows[1]).toContain('windows:4242');
    expect(r.stderr).toContain('broken.yml:8: invalid: unknown value modifier "endswithh"');
    expect(r.stderr).toMatch(/2 events, 0 bad records/);
  });

  it('runs the resource-policy rule serve runs: a bucket policy granting another account is an alert', () => {
    const r = aisoc('detect', join(OWN_FIXTURES, 'detect-bucket-policy.json'));
    expect(r.status).toBe(0);
    expect(lines(r.stdout)).toEqual([
      expect.objectContaining({
        rule: expect.objectContaining({
          id: 'e6a1d0c4-5b7f-4c21-9f3e-7a0d2b1c9e55',
          title: 'Resource policy grants access to another account or to everyone',
          level: 'medium',
          engine: 'rule',
        }),
        events: [expect.objectContaining({ id: '7a1d0c4e-0000-4000-8000-000000000002' })],
      }),
    ]);
    expect(r.stderr).toMatch(/1 {2}medium Resource policy grants access/);
  });

  it('lowers a familiar call of the same identity once the baselines have learnt, unless --no-noise', () => {
    // detect-noise.yaml: a learning window of five minutes; ops-bot stops logging at 09:00 and again at 09:20.
    const config = join(OWN_FIXTURES, 'detect-noise.yaml');
    const file = join(OWN_FIXTURES, 'detect-familiar-call.json');
    const on = aisoc('--config', config, 'detect', file);
    expect(on.status).toBe(0);
    const [first, second] = lines(on.stdout);
    // The first call falls in the learning window: it keeps the rule's level.
    expect(first).toMatchObject({ rule: { level: 'high' }, rarity: { verdict: 'learning' } });
    expect(first?.rule_level).toBeUndefined();
    expect(second).toMatchObject({
      rule: { title: 'CloudTrail trail stopped or deleted', level: 'medium' },
      rule_level: 'high',
      rarity: { verdict: 'familiar', score: 0.5, identity: 'arn:aws:iam::111122223333:user/ops-bot' },
      events: [expect.objectContaining({ id: '7a1d0c4e-0000-4000-8000-000000000013' })],
    });
    expect(second?.level_reasons).toEqual([
      expect.stringMatching(
        /seen on an earlier call of arn:aws:iam::111122223333:user\/ops-bot; lowered from high$/,
      ),
    ]);
    expect(on.stderr).toContain(
      'Noise control moved 1 level (1 lowered, 0 raised; the baselines learn for 5 min',
    );

    const off = aisoc('--config', config, 'detect', '--no-noise', file);
    expect(off.status).toBe(0);
    const plain = lines(off.stdout);
    expect(plain.map((l) => l.rule.level)).toEqual(['high', 'high']);
    expect(plain.every((l) => l.rule_level === undefined && l.rarity === undefined)).toBe(true);
    expect(off.stderr).toContain('Noise control off (--no-noise)');
  });

  it('fails with a message for an unknown source type', () => {
    const r = aisoc('detect', '--source', 'nosuch', join(FIXTURES, 'cloudtrail-mixed.json'));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('AISOC_ERR_UNKNOWN_SOURCE');
  });
});

describe('aisoc rules and aisoc eval sigma', () => {
  it('lint reports every error of every rule with its line and fails', () => {
    const r = aisoc('rules', 'lint', join(FIXTURES, 'rules'));
    expect(r.status).toBe(1);
    expect(r.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(/broken\.yml:8: invalid: unknown value modifier "endswithh"/),
      expect.stringMatching(
        /broken\.yml:9: invalid: condition "selection and filter": unknown search identifier "filter"/,
      ),
    ]);
  });

  it('test passes on the built-in pack', () => {
    const r = aisoc('rules', 'test', '--json');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { cases: number; failed: number };
    expect(out.failed).toBe(0);
    expect(out.cases).toBeGreaterThan(90);
  });

  it('eval sigma prints the regression report shape', () => {
    const r = aisoc(
      'eval',
      'sigma',
      '--json',
      '--rules',
      join(FIXTURES, 'rules'),
      '--regression',
      join(FIXTURES, 'regression'),
    );
    expect(r.status).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({
      cases: 2,
      passed: 1,
      failed: 1,
      failures: [
        {
          rule_id: '0d2a8f5e-1111-4c2b-9a3e-7f6b5c4d3e21',
          expected: 2,
          got: null,
          reason: expect.stringContaining('endswithh'),
        },
      ],
    });
  });
});
