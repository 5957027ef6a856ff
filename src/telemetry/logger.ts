import { destination, type Logger, pino, stdTimeFunctions } from 'pino';

export type { Logger };

/**
 * JSON-lines logger. Servers log to stdout; commands that print results
 * (`--json`) log to stderr so their output stays machine-readable.
 */
export function createLogger(options: { level?: string; destination?: 1 | 2; name?: string } = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      name: options.name ?? 'aisoc',
      base: undefined,
      timestamp: stdTimeFunctions.isoTime,
      redact: {
        paths: ['req.headers.authorization', 'key', 'api_key', '*.api_key', 'headers.authorization'],
        censor: '[redacted]',
      },
    },
    destination({ fd: options.destination ?? 1, sync: false }),
  );
}

/** A logger that drops everything (tests, library use). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
