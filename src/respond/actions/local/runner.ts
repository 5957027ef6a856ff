import { spawn } from 'node:child_process';

/** The outcome of one local command. */
export interface CommandResult {
  /** Exit code; `null` when the process was killed. */
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a program with an argument array, never through a shell, so no
 * argument can be read as shell syntax. Rejects only when the program cannot
 * be started (ENOENT, EACCES) or the signal aborts; a non-zero exit is a
 * result for the caller to judge.
 */
export type CommandRunner = (
  file: string,
  args: readonly string[],
  options: { input?: string; signal?: AbortSignal },
) => Promise<CommandResult>;

const MAX_OUTPUT = 4 * 1024 * 1024;

/**
 * The default {@link CommandRunner}: `spawn` with `shell: false`, stdin fed
 * from `input` (for `nft -f -`), output capped at 4 MiB per stream.
 *
 * @example const r = await execFileRunner('/usr/sbin/nft', ['-j', 'list', 'tables'], {});
 */
export const execFileRunner: CommandRunner = (file, args, options) =>
  new Promise((resolve, reject) => {
    const child = spawn(file, [...args], {
      shell: false,
      stdio: ['pipe', 'pipe', 'pipe'],
      signal: options.signal,
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      if (stdout.length < MAX_OUTPUT) stdout += d.toString('utf8');
    });
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < MAX_OUTPUT) stderr += d.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => {
      // A program that exits without reading stdin closes the pipe; its exit code tells the story.
    });
    child.stdin.end(options.input ?? '');
  });
