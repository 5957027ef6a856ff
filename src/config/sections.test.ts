import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { keysOf, section, sectionsOf, typedMap } from './sections.ts';

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
});
