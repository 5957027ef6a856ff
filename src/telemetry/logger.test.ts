import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { componentLogger, createLogger, MAIN_COMPONENT } from './logger.ts';

/** A logger made by createLogger whose JSON lines land in `lines`, as a collector reads stdout. */
function capture(level = 'info') {
  const lines: Array<Record<string, unknown>> = [];
  const text: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n'))
        if (l.trim()) {
          text.push(l);
          lines.push(JSON.parse(l));
        }
      done();
    },
  });
  return { logger: createLogger({ level, stream }), lines, text };
}

describe('createLogger: fields a log collector turns into labels', () => {
  it('writes the level as its name, not pino’s number', () => {
    const { logger, lines } = capture('trace');
    logger.trace('t');
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    logger.fatal('f');
    expect(lines.map((l) => l.level)).toEqual(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);
  });

  it('names the component of every line: main for the root logger, the bound name for a component', () => {
    const { logger, lines, text } = capture();
    logger.info('from the main program');
    const pipeline = componentLogger(logger, 'pipeline');
    pipeline.warn({ stage: 'detect' }, 'from the pipeline');
    // A component's child keeps its component, written once (pino would write a second key).
    componentLogger(pipeline, 'other').info('still the pipeline');
    pipeline.child({ stage: 'correlate' }).info('a child of the pipeline');
    expect(lines.map((l) => l.component)).toEqual([MAIN_COMPONENT, 'pipeline', 'pipeline', 'pipeline']);
    for (const t of text) expect(t.match(/"component":/g)).toHaveLength(1);
    expect(lines[1]).toMatchObject({ level: 'warn', stage: 'detect', msg: 'from the pipeline' });
  });

  it('still redacts keys', () => {
    const { logger, lines } = capture();
    logger.info({ api_key: 'secret-value', headers: { authorization: 'Bearer x' } }, 'a call');
    expect(JSON.stringify(lines[0])).not.toContain('secret-value');
    expect(JSON.stringify(lines[0])).not.toContain('Bearer x');
  });
});
