import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SourceRegistry } from '../../sources/index.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { SigmaConfig } from './config.ts';
import { loadRuleSet } from './index.ts';
import { runSamples } from './samples.ts';

/** Rule samples: a case's own source, and the placeholders a file's cases bring. */
const dir = mkdtempSync(join(tmpdir(), 'aisoc-samples-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sources = new SourceRegistry({}, silentLogger());

const DNS_RULE = `title: Query for a test domain
id: 5b0c1e52-6d7f-4b8e-9a1c-2d3e4f5a6b7c
status: test
description: A DNS query under example-bad.test.
logsource: {category: dns}
detection:
  selection: {query|endswith: .example-bad.test}
  condition: selection
level: high
tags: [attack.command_and_control, attack.t1071.004]
`;
const zeekQuery = (q: string) =>
  JSON.stringify({
    _path: 'dns',
    ts: '2026-03-02T10:00:00Z',
    uid: 'Cq1',
    'id.orig_h': '10.0.0.5',
    'id.orig_p': 5000,
    'id.resp_h': '10.0.0.53',
    'id.resp_p': 53,
    query: q,
    qtype_name: 'A',
  });
const suricataQuery = (q: string) =>
  JSON.stringify({
    timestamp: '2026-03-02T10:00:00.000000+0000',
    flow_id: 1,
    event_type: 'dns',
    src_ip: '10.0.0.5',
    src_port: 5000,
    dest_ip: '10.0.0.53',
    dest_port: 53,
    proto: 'UDP',
    dns: { type: 'query', id: 1, rrname: q, rrtype: 'A' },
  });

function run(name: string, rule: string, samples: string) {
  const file = join(dir, `${name}.yml`);
  writeFileSync(file, rule);
  writeFileSync(join(dir, `${name}.samples.yml`), samples);
  const set = loadRuleSet([file], SigmaConfig.parse({}));
  return runSamples(set, sources);
}

describe('rule samples', () => {
  it('read a case with its own source through that source, and the others through the file’s', () => {
    const { results, issues } = run(
      'dns',
      DNS_RULE,
      `source: zeek
match:
  - name: Zeek
    record: ${zeekQuery('a.example-bad.test')}
  - name: Suricata
    source: suricata
    record: ${suricataQuery('b.example-bad.test')}
  - name: Suricata record read as Zeek
    record: ${suricataQuery('c.example-bad.test')}
no_match:
  - name: Suricata, other domain
    source: suricata
    record: ${suricataQuery('www.example.com')}
`,
    );
    expect(issues).toEqual([]);
    expect(results.map((r) => [r.case, r.ok])).toEqual([
      ['Zeek', true],
      ['Suricata', true],
      ['Suricata record read as Zeek', false],
      ['Suricata, other domain', true],
    ]);
  });

  it('compile a placeholder rule with the values its samples bring, and only then', () => {
    const rule = DNS_RULE.replace('{query|endswith: .example-bad.test}', "{query|expand: '%bad_names%'}");
    const cases = `source: zeek
match:
  - name: listed name
    record: ${zeekQuery('listed.example')}
no_match:
  - name: other name
    record: ${zeekQuery('other.example')}
`;
    const withValues = run('listed', rule, `placeholders: {bad_names: [listed.example]}\n${cases}`);
    expect(withValues.results.every((r) => r.ok)).toBe(true);
    const without = run('unlisted', rule, cases);
    expect(without.results.find((r) => r.case === 'listed name')).toMatchObject({
      ok: false,
      detail: 'the rule did not fire',
    });
  });
});
