import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { processAlive } from '../store/lock.ts';
import { ensurePrivateDir } from '../store/private-dir.ts';

/** What a running server leaves in its data directory so the CLI can find it. */
export interface ServerInfo {
  url: string;
  pid: number;
  started_at: string;
}

/** `<data-dir>/server.json`, beside the database lock. */
export function serverInfoFile(dataDir: string): string {
  return join(resolve(dataDir), 'server.json');
}

/**
 * Say where this process serves, once it listens: written atomically, mode
 * 0600 in the 0700 data directory. Returns a function that removes it again
 * (only while it is still this process's).
 */
export function writeServerInfo(dataDir: string, url: string): () => void {
  ensurePrivateDir(resolve(dataDir));
  const file = serverInfoFile(dataDir);
  const info: ServerInfo = { url, pid: process.pid, started_at: new Date().toISOString() };
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(info)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
  return () => {
    if (readServerInfo(dataDir, { any: true })?.pid !== process.pid) return;
    try {
      unlinkSync(file);
    } catch {}
  };
}

/**
 * The server running on a data directory, if any: a server.json whose
 * process is alive (one left by a killed server is ignored).
 */
export function readServerInfo(dataDir: string, options: { any?: boolean } = {}): ServerInfo | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(serverInfoFile(dataDir), 'utf8'));
  } catch {
    return undefined;
  }
  const info = parsed as Partial<ServerInfo> | null;
  if (!info || typeof info.url !== 'string' || !Number.isInteger(info.pid) || (info.pid as number) <= 0)
    return undefined;
  if (!options.any && !processAlive(info.pid as number)) return undefined;
  return info as ServerInfo;
}
