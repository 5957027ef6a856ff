import { type DestinationStream, destination, type Logger, pino, stdTimeFunctions } from 'pino';

export type { Logger };

/** The `component` of a line logged by no component's logger (the CLI, the server's start and stop). */
export const MAIN_COMPONENT = 'main';

/**
 * JSON-lines logger. Servers log to stdout; commands that print results
 * (`--json`) log to stderr so their output stays machine-readable.
 *
 * Every line carries what a log collector (Promtail, `deploy/promtail/`)
 * turns into labels: `level` as its name (`info`, `warn`, …, not pino's
 * number) and `component` (the runtime gives each component a child logger
 * with its name, `componentLogger`; a line from no component's logger says
 * {@link MAIN_COMPONENT}). Lines of an HTTP request also carry its
 * `request_id`, a field and not a label (one value per request).
 *
 * @example
 * const logger = createLogger({ level: 'info' });
 * componentLogger(logger, 'pipeline').warn({ stage: 'detect' }, 'A stage failed on a whole batch.');
 * // {"level":"warn","time":"…","name":"aisoc","component":"pipeline","stage":"detect","msg":"…"}
 */
export function createLogger(
  options: {
    level?: string;
    destination?: 1 | 2;
    name?: string;
    /** Write here instead of a file descriptor (tests). */
    stream?: DestinationStream;
  } = {},
): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      name: options.name ?? 'aisoc',
      base: undefined,
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Lines of a logger without a component binding say they came from the main program. Logging is
      // per incident, not per event, so reading the bindings per line costs nothing that matters.
      mixin: (_obj, _level, logger) =>
        (logger.bindings() as { component?: unknown }).component === undefined
          ? { component: MAIN_COMPONENT }
          : {},
      redact: {
        paths: ['req.headers.authorization', 'key', 'api_key', '*.api_key', 'headers.authorization'],
        censor: '[redacted]',
      },
    },
    options.stream ?? destination({ fd: options.destination ?? 1, sync: false }),
  );
}

/**
 * The logger a component logs through: `logger` with `component` bound, once
 * (a logger that already names a component is returned as it is, since pino
 * would write the key twice).
 *
 * @example new IngestService({ …, logger: componentLogger(logger, 'ingest') })
 */
export function componentLogger(logger: Logger, component: string): Logger {
  if ((logger.bindings() as { component?: unknown }).component !== undefined) return logger;
  return logger.child({ component });
}

/** A logger that drops everything (tests, library use). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
