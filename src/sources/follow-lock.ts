import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { AisocError } from '../errors.ts';

/**
 * Take an exclusive lock on a state file (`<file>.lock` holding the pid), so
 * two followers never move one position. A lock left by a process that is
 * gone is taken over. Returns the release function.
 *
 * @example const release = await lockStateFile('/var/lib/aisoc/follow/eve.json.state'); … await release();
 */
export async function lockStateFile(file: string): Promise<() => Promise<void>> {
  const lock = `${resolve(file)}.lock`;
  await mkdir(dirname(lock), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(lock, 'wx', 0o600);
      await fh.writeFile(String(process.pid));
      await fh.close();
      return async () => {
        await unlink(lock).catch(() => undefined);
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number.parseInt(await readFile(lock, 'utf8').catch(() => ''), 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid))
        throw new AisocError(
          'AISOC_ERR_CONFLICT',
          `Another follower (process ${pid}) uses the state file ${resolve(file)}; stop it or pass another --state`,
          { field: 'state' },
        );
      await unlink(lock).catch(() => undefined);
    }
  }
  throw new AisocError('AISOC_ERR_CONFLICT', `Cannot lock the state file ${resolve(file)}`, {
    field: 'state',
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
