import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO } from './process.ts';

/** The preload that records which packages a process loads (see the file). */
export const MODULE_PROBE = join(REPO, 'test/helpers/module-probe.mjs');

/** One line of a probe log: a package a process loaded, or the probe's `start`/`exit` marks. */
export interface ProbeRecord {
  pid: number;
  thread: number;
  via: 'start' | 'import' | 'require' | 'exit';
  pkg: string | null;
}

/**
 * Environment that loads the probe into a Node process (and the processes
 * and threads it starts), logging to `log`.
 *
 * @example spawn(process.execPath, [script], { env: { ...process.env, ...probeEnv(log) } });
 */
export function probeEnv(log: string): Record<string, string> {
  const flag = `--import=${pathToFileURL(MODULE_PROBE).href}`;
  return {
    AISOC_MODULE_PROBE: log,
    NODE_OPTIONS: [process.env.NODE_OPTIONS, flag].filter(Boolean).join(' '),
  };
}

/** The records of a probe log (none when nothing wrote it). */
export function readProbe(log: string): ProbeRecord[] {
  if (!existsSync(log)) return [];
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as ProbeRecord);
}

/** Whether a package is part of the AWS SDK (@aws-sdk/*, @aws/*, and the Smithy runtime beneath them). */
export const isAwsSdk = (pkg: string | null): boolean => pkg !== null && /^@(aws-sdk|aws|smithy)\//.test(pkg);
