import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { AisocError } from '../errors.ts';

const heldHere = new Set<string>();

/** Whether a process with this id exists (EPERM: it does, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Take an exclusive lock on an embedded database directory. PGlite is one
 * process's database: a second process opening the same files would corrupt
 * them, so it is refused with a message saying what to do instead. A lock
 * left by a killed process is taken over.
 */
export function acquireDirLock(lockFile: string): () => void {
  if (heldHere.has(lockFile)) {
    throw new AisocError(
      'AISOC_ERR_CONFIG',
      `The data directory is already open in this process (${lockFile}).`,
      { field: 'data_dir' },
    );
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockFile, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      heldHere.add(lockFile);
      return () => {
        heldHere.delete(lockFile);
        try {
          unlinkSync(lockFile);
        } catch {}
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let pid = Number.NaN;
      try {
        pid = Number(readFileSync(lockFile, 'utf8').trim());
      } catch {}
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
        throw new AisocError(
          'AISOC_ERR_CONFIG',
          `The data directory is in use by process ${pid} (a running aisoc serve?). The keys, cases, actions and audit commands reach that server by themselves; send data to it with ingest --url and --key, or stop it first.`,
          { field: 'data_dir', details: { lock: lockFile, pid } },
        );
      }
      try {
        unlinkSync(lockFile);
      } catch {}
    }
  }
  throw new AisocError('AISOC_ERR_CONFIG', `Could not lock ${lockFile}`, { field: 'data_dir' });
}
