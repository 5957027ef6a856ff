import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/helpers/runtime.ts';
import { SigmaConfig } from './config.ts';
import { BUILTIN_RULES_DIR } from './content.ts';
import { buildSigma, loadRuleSet } from './index.ts';
import { ParseCache, parseCacheFile } from './parse-cache.ts';
import type { RuleSet } from './ruleset.ts';
import { parseYamlDocs } from './yaml-doc.ts';

const config = SigmaConfig.parse({});
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});
function dir(): string {
  const t = tempDir('aisoc-parse-cache-');
  cleanups.push(t.cleanup);
  return t.dir;
}

/** What a load produced, rule by rule: ids, levels, where each sits, the document, and every issue. */
function shape(set: RuleSet) {
  return {
    stats: set.stats(),
    rules: set.rules.map((r) => [r.id, r.title, r.level, r.file, r.line, r.logsource, r.tags, r.doc]),
    correlations: set.correlations.map((c) => [c.id, c.title, c.file, c.line]),
    issues: set.issues,
  };
}

const RULE = `title: Cached rule
id: 11111111-1111-4111-8111-111111111111
logsource: {product: test}
detection:
  sel:
    A|contains:
      - x
      - y
  condition: sel
level: high
---
title: Broken on line 14
id: 22222222-2222-4222-8222-222222222222
logsource: {product: test}
detection:
  sel:
    A|containz: x
  condition: sel
`;

describe('the parse cache of rule and pipeline files', () => {
  it('gives the built-in pack exactly as parsing it does, and parses nothing the second time', () => {
    const data = dir();
    const fresh = shape(loadRuleSet([BUILTIN_RULES_DIR], config));
    const first = ParseCache.open(parseCacheFile(data));
    const a = shape(loadRuleSet([BUILTIN_RULES_DIR], config, [], first));
    expect(first.hits).toBe(0);
    expect(first.misses).toBeGreaterThan(80);
    expect(first.save()).toBe(true);
    const second = ParseCache.open(parseCacheFile(data));
    const b = shape(loadRuleSet([BUILTIN_RULES_DIR], config, [], second));
    expect(second.misses).toBe(0);
    expect(second.hits).toBe(first.misses);
    expect(a).toEqual(fresh);
    expect(b).toEqual(fresh);
  });

  it('keeps the line of every key and item, and the errors with theirs', () => {
    const cache = ParseCache.open(parseCacheFile(dir()));
    const parsed = parseYamlDocs(RULE);
    cache.docs(RULE);
    const restored = cache.docs(RULE);
    expect(cache.hits).toBe(1);
    for (const path of [['detection', 'sel', 'A|contains', 1], ['level'], ['detection', 'condition'], []])
      expect(restored.map((d) => d.lineOf(path))).toEqual(parsed.map((d) => d.lineOf(path)));
    expect(restored.map((d) => d.value)).toEqual(parsed.map((d) => d.value));
    const broken = 'title: x\ndetection: [unclosed\n';
    const first = cache.docs(broken);
    expect(cache.docs(broken).map((d) => d.error)).toEqual(first.map((d) => d.error));
    expect(first[0]?.error?.line).toBeGreaterThan(0);
  });

  it('parses an edited file again, and drops entries no load uses any more', () => {
    const data = dir();
    const rules = join(data, 'rules');
    mkdirSync(rules);
    writeFileSync(join(rules, 'r.yml'), RULE);
    const load = () => {
      const cache = ParseCache.open(parseCacheFile(data));
      const set = loadRuleSet([rules], config, [], cache);
      cache.save();
      return { cache, set };
    };
    // The rule file and the built-in pipelines.
    const files = load().cache.misses;
    expect(files).toBeGreaterThan(1);
    expect(load().cache).toMatchObject({ hits: files, misses: 0 });
    writeFileSync(join(rules, 'r.yml'), RULE.replace('level: high', 'level: low'));
    const edited = load();
    expect(edited.cache.misses).toBe(1);
    expect(edited.set.rules[0]?.level).toBe('low');
    const entries = JSON.parse(readFileSync(parseCacheFile(data), 'utf8')).entries as Record<string, string>;
    expect(Object.keys(entries)).toHaveLength(files);
  });

  it('parses values JSON cannot hold every time instead of caching them changed', () => {
    const cache = ParseCache.open();
    const text = 'a: .inf\nb: -0\nc: [1, .nan]\n';
    expect(cache.value(text)).toEqual({ a: Number.POSITIVE_INFINITY, b: -0, c: [1, Number.NaN] });
    expect(cache.value(text)).toEqual({ a: Number.POSITIVE_INFINITY, b: -0, c: [1, Number.NaN] });
    expect(cache.hits).toBe(0);
    const proto = 'title: x\n__proto__: {polluted: yes}\n';
    const plain = parseYamlDocs(proto)[0]!.value;
    cache.docs(proto);
    expect(cache.docs(proto)[0]!.value).toEqual(plain);
    expect(cache.hits).toBe(0);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('ignores a damaged or foreign cache file, and a data directory it cannot write to', () => {
    const data = dir();
    const file = parseCacheFile(data);
    mkdirSync(join(data, 'cache'));
    for (const body of [
      '{"format":1,"version":',
      '[]',
      '{"format":1,"version":"0.0.0-other","entries":{}}',
    ]) {
      writeFileSync(file, body);
      const { ruleSet } = buildSigma(config, { dataDir: data });
      expect(ruleSet.stats().detection).toBeGreaterThan(50);
      const saved = JSON.parse(readFileSync(file, 'utf8')) as { entries: object };
      expect(Object.keys(saved.entries).length).toBeGreaterThan(80);
    }
    // A poisoned entry (its key right, its text not JSON) is parsed again, not trusted.
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { entries: Record<string, string> };
    for (const k of Object.keys(saved.entries)) saved.entries[k] = '{not json';
    writeFileSync(file, JSON.stringify(saved));
    expect(shape(buildSigma(config, { dataDir: data }).ruleSet)).toEqual(
      shape(loadRuleSet([BUILTIN_RULES_DIR], config)),
    );
    // Where no directory can be made (a file stands there): the load works, the cache is not written.
    const blocked = join(dir(), 'a-file');
    writeFileSync(blocked, '');
    const cache = ParseCache.open(parseCacheFile(blocked));
    expect(loadRuleSet([BUILTIN_RULES_DIR], config, [], cache).stats().detection).toBeGreaterThan(50);
    expect(cache.save()).toBe(false);
    expect(existsSync(parseCacheFile(blocked))).toBe(false);
  });
});
