import { chmodSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeEvent } from '../../test/helpers/builders.ts';
import { openToOthers } from '../../test/helpers/fs.ts';
import { tempDir } from '../../test/helpers/runtime.ts';
import { openStore } from './index.ts';

describe.skipIf(process.platform === 'win32')('embedded database file permissions', () => {
  const { dir, cleanup } = tempDir();
  afterAll(cleanup);

  it('creates the data directory 0700 and leaves no file readable by others, the WAL included', async () => {
    const dataDir = join(dir, 'fresh');
    const store = await openStore({ dataDir });
    try {
      await store.events.insert(Array.from({ length: 50 }, () => makeEvent()));
      expect(statSync(dataDir).mode & 0o777).toBe(0o700);
      expect(openToOthers(dataDir)).toEqual([]);
    } finally {
      await store.close();
    }
    expect(openToOthers(dataDir)).toEqual([]);
    const wal = readdirSync(join(dataDir, 'pg', 'pg_wal')).filter((f) => /^[0-9A-F]{24}$/.test(f));
    expect(wal.length).toBeGreaterThan(0);
  }, 120_000);

  it('tightens a data directory that was created open, and the files already in it', async () => {
    const dataDir = join(dir, 'open');
    let store = await openStore({ dataDir });
    await store.close();
    chmodSync(dataDir, 0o755);
    chmodSync(join(dataDir, 'pg'), 0o777);
    chmodSync(join(dataDir, 'pg', 'PG_VERSION'), 0o666);
    mkdirSync(join(dataDir, 'pg', 'extra'), { mode: 0o777 });
    store = await openStore({ dataDir });
    try {
      expect(openToOthers(dataDir)).toEqual([]);
    } finally {
      await store.close();
    }
  }, 120_000);
});
