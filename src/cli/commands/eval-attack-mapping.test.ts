import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aisoc } from '../../../test/helpers/cli.ts';
import { tempDir } from '../../../test/helpers/runtime.ts';
import type { FakeLlmServer, RecordedRequest } from '../../analyst/llm/testing/servers/base.ts';
import { startFakeOpenAi } from '../../analyst/llm/testing/servers/openai.ts';

const FIXTURES = join(import.meta.dirname, '../../knowledge/attack/fixtures');

const REPORTS = [
  { text: 'The loader created a scheduled task with schtasks.', labels: ['T1053.005'], doc: 'r1' },
  { text: 'It dumped credentials from LSASS memory with Mimikatz.', labels: ['T1003.001'], doc: 'r1' },
  { text: 'FixtureDroid records the keystrokes typed into banking apps.', labels: ['T1417.001'], doc: 'r2' },
  { text: 'The weather was mild.', labels: [], doc: 'r2' },
];

describe('aisoc eval attack-mapping --reports and kb load with three domains', () => {
  let t: ReturnType<typeof tempDir>;
  let server: FakeLlmServer;
  let attack: string;
  let data: string;

  beforeAll(async () => {
    t = tempDir('aisoc-eval-map-');
    for (const [from, to] of [
      ['mini-attack-stix20.json', 'enterprise-attack.json'],
      ['mini-mobile-attack.json', 'mobile-attack.json'],
      ['mini-ics-attack.json', 'ics-attack.json'],
    ])
      copyFileSync(join(FIXTURES, from!), join(t.dir, to!));
    attack = join(t.dir, 'enterprise-attack.json');
    data = join(t.dir, 'reports.jsonl');
    writeFileSync(data, `${REPORTS.map((r) => JSON.stringify(r)).join('\n')}\n`);
    server = await startFakeOpenAi();
  });
  afterAll(async () => {
    await server.close();
    t.cleanup();
  });

  it('prints report-level scores, the whole-text method for comparison', async () => {
    const r = await aisoc([
      'eval',
      'attack-mapping',
      '--attack',
      attack,
      '--data',
      data,
      '--reports',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ reports: 2, method: 'sentences', domains: ['enterprise', 'mobile', 'ics'] });
    expect(out.micro_recall).toBe(1);
    const whole = JSON.parse(
      (
        await aisoc([
          'eval',
          'attack-mapping',
          '--attack',
          attack,
          '--data',
          data,
          '--reports',
          '--method',
          'whole',
          '--json',
        ])
      ).stdout,
    );
    expect(whole.method).toBe('whole');
    expect(whole.micro_recall).toBeLessThan(1);
  });

  it('lets the configured model choose among the candidates, over the OpenAI protocol', async () => {
    const config = join(t.dir, 'llm.yaml');
    writeFileSync(
      config,
      `analyst:\n  backend: openai\n  openai:\n    url: ${server.url}/v1\n    model: fake-selector\n    max_attempts: 1\n`,
    );
    const first = (req: RecordedRequest) => {
      const body = req.body as {
        response_format: {
          json_schema: { schema: { properties: { techniques: { items: { enum: string[] } } } } };
        };
      };
      return {
        text: JSON.stringify({
          techniques: body.response_format.json_schema.schema.properties.techniques.items.enum.slice(0, 1),
        }),
      };
    };
    server.reset();
    server.script({ respond: first }, { respond: first });
    const r = await aisoc([
      '--config',
      config,
      'eval',
      'attack-mapping',
      '--attack',
      attack,
      '--data',
      data,
      '--reports',
      '--llm',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.llm).toBe('openai:fake-selector');
    expect(out.selection).toEqual({ reports: 2, failed: 0, errors: [] });
    expect(out.predicted_per_report).toBe(1);
    expect(server.requests).toHaveLength(2);
    expect(server.requests.every((q) => q.wireErrors.length === 0)).toBe(true);
  });

  it('refuses bad options, naming them', async () => {
    const base = ['eval', 'attack-mapping', '--attack', attack, '--data', data];
    const method = await aisoc([...base, '--reports', '--method', 'magic']);
    expect(method.code).not.toBe(0);
    expect(method.stderr).toContain('--method must be sentences or whole');
    const noBackend = await aisoc([...base, '--reports', '--llm']);
    expect(noBackend.code).not.toBe(0);
    expect(noBackend.stderr).toContain('analyst.backend');
    const domains = await aisoc([...base, '--reports', '--domains', 'enterprise,android']);
    expect(domains.stderr).toContain('--domains: android is not an ATT&CK domain');
  });

  it('kb map --report maps a report file sentence by sentence, across domains', async () => {
    const config = join(t.dir, 'kb.yaml');
    writeFileSync(config, `knowledge:\n  attack_path: ${attack}\n  cache_index: false\n`);
    const report = join(t.dir, 'report.txt');
    writeFileSync(
      report,
      'The loader created a scheduled task with schtasks.\n\nFixtureDroid records the keystrokes typed into banking apps.\n',
    );
    const r = await aisoc(['--config', config, 'kb', 'map', '--report', report, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.sentences).toBe(2);
    expect(out.techniques.map((x: { technique_id: string }) => x.technique_id)).toEqual(
      expect.arrayContaining(['T1053.005', 'T1417.001']),
    );
    const missing = await aisoc(['--config', config, 'kb', 'map', '--report', join(t.dir, 'nope.txt')]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('Cannot read');
  });

  it('kb load copies all three bundles into the cache from beside a local Enterprise file', async () => {
    const cache = join(t.dir, 'cache');
    const config = join(t.dir, 'cache.yaml');
    writeFileSync(config, `knowledge:\n  cache_dir: ${cache}\n`);
    const r = await aisoc(['--config', config, 'kb', 'load', '--attack', attack, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.domains.map((d: { domain: string; techniques: number }) => [d.domain, d.techniques])).toEqual([
      ['enterprise', 10],
      ['mobile', 4],
      ['ics', 2],
    ]);
    for (const f of ['enterprise-attack.json', 'mobile-attack.json', 'ics-attack.json'])
      expect(existsSync(join(cache, f))).toBe(true);
  });
});
