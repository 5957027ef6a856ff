import { describe, expect, it } from 'vitest';
import { coverageLines, sourceCoverage } from './coverage.ts';
import type { Detector, DetectorRule } from './types.ts';

const rule = (id: string, sources?: string[]): DetectorRule => ({
  id,
  title: id,
  engine: 'sigma',
  level: 'high',
  tags: [],
  lint: { state: 'ok', messages: [] },
  ...(sources ? { sources } : {}),
});
const detector = (rules: DetectorRule[]): Detector => ({ name: 'd', detect: () => [], rules: () => rules });

describe('source coverage', () => {
  const sources = [
    { type: 'windows' },
    { type: 'zeek', verdicts: 'notices' },
    { type: 'suricata', verdicts: 'alerts' },
    { type: 'generic' },
  ];
  const coverage = sourceCoverage(
    [
      detector([rule('a', ['windows']), rule('b', ['windows', 'zeek']), rule('ml')]),
      detector([rule('c', ['windows'])]),
      { name: 'no-rules', detect: () => [] },
    ],
    sources,
  );

  it('counts the rules that read each source, over every detector; rules naming no source count nowhere', () => {
    expect(coverage).toEqual([
      { type: 'windows', rules: 3 },
      { type: 'zeek', rules: 1, verdicts: 'notices' },
      { type: 'suricata', rules: 0, verdicts: 'alerts' },
      { type: 'generic', rules: 0 },
    ]);
  });

  it('says which sources raise no alert at all (a warning) and which only on their product’s verdicts', () => {
    const lines = coverageLines(coverage);
    expect(lines[0]).toMatchObject({ level: 'info', msg: 'Detection rules per source: windows 3, zeek 1.' });
    expect(lines[1]).toMatchObject({ level: 'info', fields: { sources: ['suricata'] } });
    expect(lines[2]).toMatchObject({ level: 'warn', fields: { sources: ['generic'] } });
    expect(lines[2]!.msg).toContain('raise no alert');
    expect(coverageLines(coverage.filter((c) => c.type === 'windows'))).toHaveLength(1);
  });
});
