import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers/runtime.ts';
import { lockStateFile } from './follow-lock.ts';

const { dir, cleanup } = tempDir('aisoc-follow-lock-');
afterAll(cleanup);

describe('follow state lock', () => {
  it('locks a state file against a second live follower and takes over a stale lock', async () => {
    const state = join(dir, 'lock.state.json');
    writeFileSync(`${state}.lock`, String(process.ppid));
    await expect(lockStateFile(state)).rejects.toMatchObject({ code: 'AISOC_ERR_CONFLICT', field: 'state' });
    const gone = spawnSync(process.execPath, ['-e', '0']).pid;
    writeFileSync(`${state}.lock`, String(gone));
    const release = await lockStateFile(state);
    expect(existsSync(`${state}.lock`)).toBe(true);
    await release();
    expect(existsSync(`${state}.lock`)).toBe(false);
  });
});
