import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { BIN, REPO } from './process.ts';

const run = promisify(execFile);

/** Run the `aisoc` command line to its end; its exit code and output, never a throw. */
export async function aisoc(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [BIN, ...args], {
      cwd: REPO,
      env: { ...process.env, ...env },
      timeout: 120_000,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}
