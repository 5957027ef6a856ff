import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testServer } from '../../test/helpers/runtime.ts';

const FIXTURES = join(import.meta.dirname, '..');
const suricata = JSON.parse(readFileSync(join(FIXTURES, 'sources/suricata/fixtures/alerts.json'), 'utf8'))[0];
const guardduty = {
  ...JSON.parse(readFileSync(join(FIXTURES, 'sources/guardduty/fixtures/findings.json'), 'utf8'))[0],
  id: 'f0000000000000000000000000000017',
  type: 'UnauthorizedAccess:EC2/SSHBruteForce',
  severity: 5,
};
/** A Wazuh alert whose rule states T1190, with a description the text mapper would read as a scheduled task. */
const wazuh = {
  timestamp: '2026-01-15T10:00:00.000+0000',
  id: '1768471200.17',
  agent: { id: '001', name: 'web-1' },
  manager: { name: 'wazuh-manager' },
  rule: {
    id: '100200',
    level: 10,
    description: 'A scheduled task was created with schtasks /create on the web server.',
    groups: ['web', 'attack'],
    mitre: { id: ['T1190'], tactic: ['Initial Access'], technique: ['Exploit Public-Facing Application'] },
  },
  decoder: { name: 'web-accesslog' },
  full_log: 'GET /cgi-bin/.%2e/.%2e/etc/passwd HTTP/1.1',
  location: '/var/log/nginx/access.log',
};

describe('techniques the upstream products state', () => {
  it('reach the alert and the verdict before any text mapping', async () => {
    const t = await testServer(
      {
        knowledge: {
          attack_path: join(FIXTURES, 'knowledge/attack/fixtures/mini-attack-stix20.json'),
          cache_index: false,
        },
      },
      { response: true },
    );
    try {
      const ingest = (source: string, value: unknown) =>
        t.runtime.ingest.ingestBody(source, Buffer.from(JSON.stringify(value)));
      expect((await ingest('wazuh', wazuh)).stored).toBe(1);
      expect((await ingest('suricata', suricata)).stored).toBe(1);
      expect((await ingest('guardduty', guardduty)).stored).toBe(1);
      await t.runtime.runner.drain(30_000);
      await t.runtime.knowledge.ready();
      const { items } = await t.runtime.store.alerts.list({});
      const upstream = items.filter((a) => a.detections.some((d) => d.engine === 'upstream'));
      const bySource = new Map(upstream.map((a) => [a.detections[0]!.rule_id.split(':')[0], a]));
      expect(bySource.get('wazuh')!.mitre_techniques).toEqual(['T1190']);
      expect(bySource.get('suricata')!.mitre_techniques).toEqual(['T1190']);
      expect(bySource.get('guardduty')!.mitre_techniques).toEqual(['T1110']);
      for (const [source, alert] of bySource) {
        const verdict = (await t.runtime.response!.analyst.analyzeAlert(alert.id)).response;
        // The stated technique, and not the one the alert's words would map to (a scheduled task, T1053.005).
        expect(verdict.mitre_techniques, source).toEqual(alert.mitre_techniques);
      }
    } finally {
      await t.close();
    }
  });
});
