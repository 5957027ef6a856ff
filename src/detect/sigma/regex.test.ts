import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { anyGlob, compileGlob, fillGrams, NeedleSet } from './glob.ts';
import { backtrackingRisk, compileRegex, requiredLiteral } from './regex.ts';
import { ANY, ONE, type Part, parseSigmaString } from './sigma-string.ts';
import { engineFromText, matchingRules, ruleSetFromText, testEvent } from './testing.ts';

describe('regex engines', () => {
  const evil = '(a+)+$';
  const attack = `${'a'.repeat(40)}!`;

  it('re2 runs a catastrophic pattern in linear time', () => {
    const r = compileRegex(evil, {}, 're2');
    expect(r.engine).toBe('re2');
    const t0 = performance.now();
    expect(r.test(attack)).toBe(false);
    // V8 would take minutes on this input; the automaton takes well under a second even on a loaded machine.
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('the guard sends risky patterns to re2 and safe ones to V8 in guarded mode', () => {
    expect(compileRegex(evil, {}, 'guarded').engine).toBe('re2');
    expect(compileRegex('.*a.*b', {}, 'guarded').engine).toBe('re2');
    expect(compileRegex('^\\\\evil\\.(exe|dll)$', {}, 'guarded').engine).toBe('native');
    expect(compileRegex('(?i)^abc$', {}, 'guarded').test('ABC')).toBe(true);
  });

  it('flags the classic blow-up shapes and passes simple ones', () => {
    for (const p of ['(a+)+', '(a|aa)*', '(.*,){20}', '(\\w+\\s?)*$', '(a)\\1', '.*x.*y']) {
      expect(backtrackingRisk(p), p).toBeDefined();
    }
    for (const p of ['^abc$', 'a+b', '[a-z]{1,64}\\.exe', '(?:foo|bar)baz', 'x.{0,5}y']) {
      expect(backtrackingRisk(p), p).toBeUndefined();
    }
  });

  it('rejects lookarounds and back-references as unsupported, naming the pattern', () => {
    const set = ruleSetFromText(
      "title: t\nid: r\nlogsource: {product: test}\ndetection:\n  sel:\n    A|re: 'a(?=b)'\n  condition: sel\n",
    );
    expect(set.rules).toHaveLength(0);
    expect(set.issues[0]).toMatchObject({ kind: 'unsupported', line: 6 });
    expect(set.issues[0]!.message).toContain('a(?=b)');
  });

  it('a rule with a pathological regex does not hang the scan', () => {
    const e = engineFromText(
      "title: t\nid: r\nlogsource: {product: test}\ndetection:\n  sel:\n    A|re: '^(\\w+\\s?)*$'\n  condition: sel\n",
    );
    const t0 = performance.now();
    expect(matchingRules(e, testEvent({ A: `${'word '.repeat(5000)}!` }))).toEqual([]);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('reads a required literal off a pattern for a cheap pre-check', () => {
    expect(requiredLiteral('\\\\mypipe-(?:f|h)[0-9a-f]{2}', false)).toEqual({
      text: '\\mypipe-',
      caseInsensitive: false,
    });
    expect(requiredLiteral('(?i)evil\\.exe', false)).toEqual({ text: 'evil.exe', caseInsensitive: true });
    expect(requiredLiteral('abc|def', false)).toBeUndefined();
    expect(requiredLiteral('ab?cdef', false)?.text).toBe('cdef');
  });
});

/** Reference semantics of a wildcard pattern, through a regex built from it. */
function reference(parts: Part[], s: string): boolean {
  const body = parts
    .map((p) =>
      p === ANY
        ? '[\\s\\S]*'
        : p === ONE
          ? '[\\s\\S]'
          : typeof p === 'string'
            ? p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
            : '[-/\u2013\u2014\u2015]',
    )
    .join('');
  return new RegExp(`^${body}$`).test(s);
}

describe('wildcard matching', () => {
  const alphabet = fc.constantFrom('a', 'b', '\\', '-');
  const text = fc.array(alphabet, { maxLength: 12 }).map((a) => a.join(''));
  const pattern = fc
    .array(fc.oneof(alphabet, fc.constant('*'), fc.constant('?')), { maxLength: 8 })
    .map((a) => a.join(''));

  it('agrees with a regular-expression reference on random patterns and texts', () => {
    fc.assert(
      fc.property(pattern, text, (p, s) => {
        const parts = parseSigmaString(p);
        expect(compileGlob(parts)(s)).toBe(reference(parts, s));
      }),
      { numRuns: 3000 },
    );
  });

  it('anyGlob agrees with testing each pattern alone', () => {
    fc.assert(
      fc.property(fc.array(pattern, { minLength: 1, maxLength: 5 }), text, (ps, s) => {
        const parts = ps.map(parseSigmaString);
        expect(anyGlob(parts)(s)).toBe(parts.some((p) => reference(p, s)));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('many-needle substring search', () => {
  it('agrees with includes, with and without the bigram filter', () => {
    const word = fc
      .array(fc.constantFrom('a', 'b', 'c', '\\', 'é'), { minLength: 1, maxLength: 6 })
      .map((a) => a.join(''));
    fc.assert(
      fc.property(
        fc.array(word, { minLength: 1, maxLength: 12 }),
        fc.array(word, { maxLength: 60 }),
        (needles, parts) => {
          const text = parts.join('');
          const set = new NeedleSet(needles);
          const want = needles.some((n) => text.includes(n));
          expect(set.test(text)).toBe(want);
          expect(set.test(text, fillGrams(text, new Uint32Array(2048)))).toBe(want);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
