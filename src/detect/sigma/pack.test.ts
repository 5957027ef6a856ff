import { describe, expect, it } from 'vitest';
import { SourceRegistry } from '../../sources/index.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { SigmaConfig } from './config.ts';
import { BUILTIN_RULES_DIR } from './content.ts';
import { loadRuleSet } from './index.ts';
import { packConventions } from './lint.ts';
import { runSamples } from './samples.ts';

describe('the built-in rule pack', () => {
  const set = loadRuleSet([BUILTIN_RULES_DIR], SigmaConfig.parse({}));

  it('loads without a problem and meets the pack conventions', () => {
    expect([...set.issues, ...packConventions(set)]).toEqual([]);
    expect(set.rules.filter((r) => r.generate).length).toBeGreaterThanOrEqual(30);
  });

  it('fires on every match sample and on no no_match sample', () => {
    const { results, issues } = runSamples(set, new SourceRegistry({}, silentLogger()));
    expect(issues).toEqual([]);
    expect(results.filter((r) => !r.ok)).toEqual([]);
    const files = new Set(results.map((r) => r.file));
    for (const f of files) {
      expect(
        results.some((r) => r.file === f && r.expect === 'match'),
        f,
      ).toBe(true);
      expect(
        results.some((r) => r.file === f && r.expect === 'no_match'),
        f,
      ).toBe(true);
    }
  });
});
