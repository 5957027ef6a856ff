import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from './compose-check.ts';

/**
 * docs/deploy.md's backup and restore, run for real by scripts/backup-check.sh:
 * an embedded data directory through tar, and a PostgreSQL database through
 * pg_dump and pg_restore (the test server; in CI it must answer).
 */
describe('scripts/backup-check.sh', () => {
  it('restores the embedded data directory and PostgreSQL with the same events, alerts and incidents', async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>(
      (resolve) => {
        execFile(
          'bash',
          [join(REPO, 'scripts/backup-check.sh')],
          { cwd: REPO, maxBuffer: 16 * 1024 * 1024 },
          (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
        );
      },
    );
    expect(code, stderr + stdout).toBe(0);
    expect(stdout).toMatch(/^ok {3}embedded data directory restored from tar: \{"events":[1-9]/m);
    expect(stdout).toContain('ok   embedded: the restored copy knows its events');
    if (!stdout.includes('skip postgres')) {
      expect(stdout).toMatch(/^ok {3}PostgreSQL restored from pg_dump: \{"events":[1-9]/m);
      expect(stdout).toContain('ok   PostgreSQL: the restored copy knows its events');
    }
    expect(stdout).toMatch(/backup-check: [24] passed, 0 failed/);
  });
});
