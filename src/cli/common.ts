import type { Command } from 'commander';
import { type AppConfig, loadConfig } from '../app-config.ts';
import { mergeDeep } from '../config/load.ts';
import { AisocError, describeError } from '../errors.ts';

export interface GlobalOptions {
  config?: string;
  dataDir?: string;
  logLevel?: string;
}

/** Config for a command: file, environment, then the global and command flags. */
export function commandConfig(cmd: Command, overrides: Record<string, unknown> = {}): AppConfig {
  const g = cmd.optsWithGlobals() as GlobalOptions;
  const flags: Record<string, unknown> = {};
  if (g.dataDir) flags.data_dir = g.dataDir;
  if (g.logLevel) flags.log_level = g.logLevel;
  return loadConfig({ file: g.config, overrides: mergeDeep(flags, overrides) });
}

/** Print a line to stderr (progress and human messages; stdout is for results). */
export function say(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

/** A one-line progress display on a TTY; silent otherwise. */
export function progress(enabled = process.stderr.isTTY === true) {
  let last = 0;
  return {
    update(text: string) {
      if (!enabled) return;
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      process.stderr.write(`\r\x1b[K${text}`);
    },
    done(text?: string) {
      if (!enabled) return;
      process.stderr.write(`\r\x1b[K${text ? `${text}\n` : ''}`);
    },
  };
}

/** Whether the command that is running was given `--json` (commander passes the command last). */
function wantsJson(args: unknown[]): boolean {
  const cmd = args.at(-1) as { opts?: () => Record<string, unknown> } | undefined;
  return typeof cmd?.opts === 'function' && cmd.opts().json === true;
}

/**
 * Run a command body, turning errors into a message and exit code 1 (never a
 * stack trace for known errors). With `--json`, the error is one JSON line on
 * stderr, `{"error": {"code", "message", "field"?, "details"?}}`: stdout holds
 * results only, so a failed command never passes for a result in a pipeline.
 */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      const known = err instanceof AisocError ? err : undefined;
      if (wantsJson(args)) {
        const body = known ? known.toJSON() : { code: 'AISOC_ERR_INTERNAL', message: describeError(err) };
        process.stderr.write(`${JSON.stringify({ error: body })}\n`);
      } else if (known) {
        say(`error ${known.code}: ${known.message}`);
      } else {
        say(`error: ${describeError(err)}`);
      }
      if (!known && process.env.AISOC_DEBUG) console.error(err);
      process.exitCode = 1;
    }
  };
}

export function parseScopes(s: string): string[] {
  return s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
}
