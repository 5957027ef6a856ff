import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AisocError } from '../errors.ts';
import { declaredSectionsOf, keysOf, parseSection, section, sectionsOf, typedMap } from './sections.ts';

const Retry = z.strictObject({ attempts: z.number().int().min(1).default(3) });
const Http = z.strictObject({ url: z.url(), timeout_ms: z.number().default(1000) });

describe('config section helpers', () => {
  it('section: a left-out section takes every default', () => {
    expect(z.strictObject({ retry: section(Retry) }).parse({})).toEqual({ retry: { attempts: 3 } });
  });

  it('sectionsOf and keysOf: one defaulted section per registry key, in registry order', () => {
    const registry = { second: { configSchema: Retry }, first: { configSchema: Retry } };
    const shape = sectionsOf(registry);
    expect(Object.keys(shape)).toEqual(['second', 'first']);
    expect(z.strictObject(shape).parse({ first: { attempts: 5 } })).toEqual({
      second: { attempts: 3 },
      first: { attempts: 5 },
    });
    expect(keysOf(registry)).toEqual(['second', 'first']);
  });

  it('typedMap: checks each entry against its type, keeps it as given, and names unknown types', () => {
    const map = typedMap(
      new Map<string, z.ZodType>([
        ['retry', Retry],
        ['http', Http],
      ]),
      (type, known) => `no ${type} (known: ${known.join(', ')})`,
    );
    // Values are not parsed: the registry that builds the component parses them.
    expect(map.parse({ retry: null, http: { url: 'https://example.com' } })).toEqual({
      retry: null,
      http: { url: 'https://example.com' },
    });
    const bad = map.safeParse({ http: {}, retry: { attempts: 0, extra: 1 }, nope: {} });
    expect(bad.success).toBe(false);
    const issues = bad.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues).toContain('nope: no nope (known: retry, http)');
    expect(issues.some((i) => i.startsWith('http.url: '))).toBe(true);
    expect(issues.some((i) => i.startsWith('retry.attempts: '))).toBe(true);
    expect(issues).toContain('retry: Unrecognized key: "extra"');
  });

  it('declaredSectionsOf: a section only for the entries that declare a schema, in registry order', () => {
    const registry = {
      plain: { create: () => 1 },
      retry: { configSchema: Retry },
      again: { configSchema: Retry },
    };
    const shape = declaredSectionsOf(registry);
    expect(Object.keys(shape)).toEqual(['retry', 'again']);
    expect(z.strictObject(declaredSectionsOf({ retry: registry.retry })).parse({})).toEqual({
      retry: { attempts: 3 },
    });
  });

  it('parseSection: parses with defaults, or throws AISOC_ERR_CONFIG naming the field by its full path', () => {
    expect(parseSection(Retry, undefined, 'detect.retry')).toEqual({ attempts: 3 });
    let caught: unknown;
    try {
      parseSection(Retry, { attempts: 3, extra: 1 }, 'detect.retry');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(AisocError);
    expect((caught as AisocError).code).toBe('AISOC_ERR_CONFIG');
    expect((caught as AisocError).message).toContain('detect.retry');
    expect((caught as AisocError).message).toContain('extra');
    expect(() => parseSection(Retry, { attempts: 0 }, 'x.retry')).toThrow(/x\.retry\.attempts/);
  });
});
