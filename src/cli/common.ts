import type { Command } from 'commander';
import { loadConfig, mergeDeep } from '../config/load.ts';
import type { AppConfig } from '../config/schema.ts';
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

/** Run a command body, turning errors into a message and exit code 1 (never a stack trace for known errors). */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      if (err instanceof AisocError) {
        say(`error ${err.code}: ${err.message}`);
      } else {
        say(`error: ${describeError(err)}`);
        if (process.env.AISOC_DEBUG) console.error(err);
      }
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
