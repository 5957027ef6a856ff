import { Writable } from 'node:stream';
import { createLogger } from '../../src/telemetry/logger.ts';

/**
 * A logger made by `createLogger` (the product's, with its level names and
 * components) whose JSON lines land in `lines`, as a log collector reads
 * a server's stdout.
 *
 * @example const log = captureLogs(); await testServer({}, { logger: log.logger });
 */
export function captureLogs(level = 'info') {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      done();
    },
  });
  return { logger: createLogger({ level, stream }), lines };
}
