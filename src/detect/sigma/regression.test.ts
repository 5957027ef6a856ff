/**
 * The regression runner counts a case as passed only when its rule matches
 * exactly `match_count` events: an over-match is a failure, reported apart
 * from under-matches, misses and cases that cannot run. Cases of our own
 * making, built in a temporary directory around the fixture whoami rule.
 */
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/helpers/runtime.ts';
import { SourceRegistry } from '../../sources/index.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { SigmaConfig } from './config.ts';
import { loadRuleSet } from './index.ts';
import { runRegression } from './regression.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const RULE_ID = '7b0c2b4e-6a55-4e1e-9d1f-5a4c1d2e3f40';
/** One whoami event and one notepad event: the fixture rule matches the first only. */
const EVENTS = readFileSync(join(FIXTURES, 'regression', 'whoami', `${RULE_ID}.json`), 'utf8');
const WHOAMI = EVENTS.slice(0, EVENTS.indexOf('\n}\n') + 3);

function writeCase(root: string, name: string, matchCount: number, events: string) {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'info.yml'),
    [
      `id: 00000000-0000-4000-8000-${String(name.length).padStart(12, '0')}`,
      'rule_metadata:',
      `    - id: ${RULE_ID}`,
      'regression_tests_info:',
      '    - name: Positive Detection Test',
      '      type: evtx',
      `      match_count: ${matchCount}`,
      `      path: regression_data/${name}/${RULE_ID}.evtx`,
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, `${RULE_ID}.json`), events);
}

describe('SigmaHQ regression runner', () => {
  const tmp = tempDir('aisoc-regression-');
  afterAll(tmp.cleanup);
  const set = loadRuleSet([join(FIXTURES, 'rules')], SigmaConfig.parse({}));
  const sources = new SourceRegistry({}, silentLogger());

  it('fails a case whose rule matches more events than expected, and counts each outcome apart', () => {
    const root = join(tmp.dir, 'cases');
    writeCase(root, 'exact', 1, EVENTS);
    // Two whoami runs where the case expects one: the rule fires on an event the case says it should not.
    writeCase(root, 'over', 1, `${WHOAMI}\n${WHOAMI}`);
    writeCase(root, 'under', 3, `${WHOAMI}\n${WHOAMI}`);
    writeCase(root, 'miss', 1, EVENTS.slice(WHOAMI.length));
    cpSync(join(FIXTURES, 'regression', 'missed'), join(root, 'rule-not-loaded'), { recursive: true });

    const r = runRegression(set, sources, root);
    expect(r).toMatchObject({
      cases: 5,
      passed: 1,
      failed: 4,
      exact: 1,
      over: 1,
      under: 1,
      miss: 1,
      errors: 1,
    });
    const byCase = Object.fromEntries(r.failures.map((f) => [f.case, f]));
    expect(byCase.over).toMatchObject({ outcome: 'over', expected: 1, got: 2 });
    expect(byCase.under).toMatchObject({ outcome: 'under', expected: 3, got: 2 });
    expect(byCase.miss).toMatchObject({ outcome: 'miss', expected: 1, got: 0 });
    expect(byCase['rule-not-loaded']).toMatchObject({ outcome: 'error', got: null });
    expect(r.failures.some((f) => f.case === 'exact')).toBe(false);
  });
});
