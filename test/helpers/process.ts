import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = join(REPO, 'bin/aisoc.mjs');

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
}

/**
 * Start `aisoc serve` as a real process on a free port and wait until it
 * says where it listens.
 */
export async function startServe(
  dataDir: string,
  env: Record<string, string> = {},
  timeoutMs = 180_000,
): Promise<ServeProcess> {
  return startAisoc(['serve', '--port', '0', '--data-dir', dataDir, '--log-level', 'warn'], env, timeoutMs);
}

/**
 * Start a long-running `aisoc` command (`serve`, `serve --role worker`) and
 * wait until it prints the URL it answers on ("serving on URL" or a
 * worker's "health and metrics on URL").
 */
export async function startAisoc(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 180_000,
): Promise<ServeProcess> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`aisoc ${args.join(' ')} did not start in ${timeoutMs} ms:\n${out}`)),
      timeoutMs,
    );
    const seen = (d: Buffer) => {
      out += d;
      const m = /(?:serving on|health and metrics on) (http:\/\/[^\s)]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', seen);
    child.stderr!.on('data', seen);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`aisoc ${args.join(' ')} exited with ${code}:\n${out}`));
    });
  });
  return { child, url, output: () => out };
}

export function waitExit(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}
