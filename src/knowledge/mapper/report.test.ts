import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sharedData } from '../../../test/helpers/data.ts';
import { AisocError } from '../../errors.ts';
import { parseAttackBundle } from '../attack/load.ts';
import { mergeAttackDomains, readAttackDomains } from '../attack/merge.ts';
import { resolveAttackBundles } from '../attack/source.ts';
import { annoctrToLabelled, ctiAteToLabelled, readLabelled } from './datasets.ts';
import { TechniqueMapper } from './index.ts';
import { scoreSets } from './metrics.ts';
import { aggregateReport, DEFAULT_REPORT_PARAMS, mapReport, type SentenceRanking } from './report.ts';
import { evaluateReports, groupReports } from './report-eval.ts';

const fixture = (name: string) =>
  parseAttackBundle(JSON.parse(readFileSync(join(import.meta.dirname, '../attack/fixtures', name), 'utf8')));
const attack = mergeAttackDomains([
  fixture('mini-attack-stix20.json'),
  fixture('mini-mobile-attack.json'),
  fixture('mini-ics-attack.json'),
]);

const ranking = (text: string, ...pairs: Array<[string, number]>): SentenceRanking => ({
  text,
  ranked: pairs.map(([technique_id, score]) => ({ technique_id, name: technique_id, score })),
});

describe('aggregateReport', () => {
  const params = { per_sentence: 10, floor: 0.1, relative: 0.8, threshold: 0.3 };

  it('joins supporting sentences by noisy-OR and keeps them as evidence', () => {
    const all = aggregateReport(
      [
        ranking('s0', ['T1', 0.2], ['T2', 0.19]), // both within 0.8 of the best
        ranking('s1', ['T1', 0.5], ['T3', 0.3]), // T3 is below 0.8 × 0.5: no support
        ranking('s2', ['T4', 0.05]), // below the floor
      ],
      params,
    );
    expect(all.map((t) => t.technique_id)).toEqual(['T1', 'T2']);
    // 1 − (1 − 0.2)(1 − 0.5) = 0.6
    expect(all[0]).toMatchObject({ score: 0.6, support: 2 });
    expect(all[0]!.evidence.map((e) => e.sentence)).toEqual([1, 0]);
    expect(all[1]).toMatchObject({ score: 0.19, support: 1 });
  });

  it('lets several weak sentences carry a technique one of them could not', () => {
    const weak = Array.from({ length: 3 }, (_, i) => ranking(`s${i}`, ['T1', 0.15]));
    expect(aggregateReport(weak.slice(0, 1), params)[0]!.score).toBeLessThan(params.threshold);
    expect(aggregateReport(weak, params)[0]!.score).toBeGreaterThanOrEqual(params.threshold);
  });
});

describe('mapReport', () => {
  const mapper = TechniqueMapper.fit(attack);

  it('ranks Enterprise exactly as a mapper that knows only Enterprise', () => {
    const alone = TechniqueMapper.fit(fixture('mini-attack-stix20.json'));
    for (const text of [
      'It dumped credentials from LSASS memory and recorded keystrokes on the phone.',
      'schtasks /create /tn Updater accessibility service android',
      'android accessibility keystrokes',
    ]) {
      const scores = (m: TechniqueMapper, domains?: Array<'enterprise'>) =>
        m.rank(text, 5, domains).map((r) => [r.technique_id, r.score.toFixed(6), r.coverage.toFixed(6)]);
      expect(scores(mapper, ['enterprise'])).toEqual(scores(alone));
    }
  });

  it('maps a report across domains, evidence pointing at the sentences', async () => {
    const r = await mapReport(
      mapper,
      'The loader created a scheduled task with schtasks to run every minute.\n\nIt dumped credentials from LSASS memory with Mimikatz. The operator also sent an unauthorized command message to the PLC to open a breaker.',
    );
    expect(r.sentences).toBe(3);
    const ids = r.techniques.map((t) => t.technique_id);
    expect(ids).toEqual(expect.arrayContaining(['T1053.005', 'T1003.001', 'T0855']));
    expect(r.techniques.find((t) => t.technique_id === 'T0855')).toMatchObject({
      domain: 'ics',
      evidence: [{ sentence: 2 }],
    });
    const only = await mapReport(mapper, 'The operator sent an unauthorized command message to the PLC.', {
      domains: ['enterprise'],
    });
    expect(only.candidates.map((t) => t.domain)).not.toContain('ics');
  });

  it('yields between slices of a long report', async () => {
    let pauses = 0;
    const text = Array.from({ length: 60 }, (_, i) => `Sentence ${i} talks about schtasks.`).join(' ');
    const r = await mapReport(mapper, text, {
      pause: async () => {
        pauses++;
      },
    });
    expect(r.sentences).toBe(60);
    expect(pauses).toBe(5);
  });

  it('maps an empty or wordless report to nothing', async () => {
    for (const text of ['', '   ', '!!! ??? ...', '0000 1111']) {
      const r = await mapReport(mapper, text);
      expect(r.techniques).toEqual([]);
    }
  });
});

describe('report data', () => {
  it('groups a document’s texts into one report labelled with their union', () => {
    expect(
      groupReports([
        { text: 'a.', labels: ['T1059'], doc: 'r1' },
        { text: 'b.', labels: [], doc: 'r1' },
        { text: 'a.', labels: ['T1105'], doc: 'r1' },
        { text: 'c.', labels: ['T1003'] },
      ]),
    ).toEqual([
      { doc: 'r1', text: 'a.\n\nb.', labels: ['T1059', 'T1105'] },
      { doc: '#3', text: 'c.', labels: ['T1003'] },
    ]);
  });

  it('reads CTI-ATE rows as reports, naming the line and column of a bad row', () => {
    const tsv =
      'URL\tPlatform\tDescription\tPrompt\tGT\n' +
      'https://example.org/a\tEnterprise\tIt logs keystrokes.\tignored\tT1056, T1059.001\n' +
      'https://example.org/b\tMobile\tIt reads the call log.\tignored\tt1636/002\n';
    expect(ctiAteToLabelled(tsv, 'x.tsv')).toEqual([
      { text: 'It logs keystrokes.', labels: ['T1056', 'T1059.001'], doc: 'https://example.org/a#2' },
      { text: 'It reads the call log.', labels: ['T1636.002'], doc: 'https://example.org/b#3' },
    ]);
    const bad = (content: string) => {
      try {
        ctiAteToLabelled(content, 'x.tsv');
      } catch (err) {
        return err as AisocError;
      }
      throw new Error('expected an error');
    };
    expect(bad('URL\tDescription\n').field).toBe('GT');
    expect(bad('Description\tGT\nsome text\tnot-an-id\n')).toMatchObject({ field: 'GT', line: 2 });
    expect(bad('Description\tGT\n\tT1059\n')).toMatchObject({ field: 'Description', line: 2 });
    expect(bad('Description\tGT\ntext\t\n')).toBeInstanceOf(AisocError);
  });

  it('keeps every AnnoCTR sentence with a mention once, labelled with its techniques or none', () => {
    const line = (mention: string, type: string, link: string, left: string, right: string) =>
      JSON.stringify({
        mention,
        _context_left: left,
        _context_right: right,
        label_link: link,
        entity_type: type,
        document: 'd1',
      });
    const content = [
      line('Mustang Panda', 'GROUP', 'https://attack.mitre.org/groups/G0129', '', ' uses DLL side-loading.'),
      line(
        'DLL side-loading',
        'TECHNIQUE',
        'https://attack.mitre.org/techniques/T1574/002',
        'Mustang Panda uses ',
        '.',
      ),
      line('PlugX', 'SOFTWARE', 'https://attack.mitre.org/software/S0013', 'It drops ', ' on disk.'),
    ].join('\n');
    expect(annoctrToLabelled(content, 'a.jsonl', { allMentions: true })).toEqual([
      { text: 'Mustang Panda uses DLL side-loading.', labels: ['T1574.002'], doc: 'd1' },
      { text: 'It drops PlugX on disk.', labels: [], doc: 'd1' },
    ]);
    expect(annoctrToLabelled(content, 'a.jsonl')).toHaveLength(1);
  });

  it('scores sets per report, micro and per technique', () => {
    const s = scoreSets([
      { gold: ['T1', 'T2'], predicted: ['T1', 'T3'] },
      { gold: ['T1'], predicted: [] },
    ]);
    // tp 1, fp 1, fn 2
    expect(s.micro_precision).toBeCloseTo(0.5);
    expect(s.micro_recall).toBeCloseTo(1 / 3);
    // T1: tp1 fn1 → 2/3; T2: 0; T3: 0 → macro over three, macro over labels over T1 and T2.
    expect(s.macro_f1).toBeCloseTo(2 / 9);
    expect(s.macro_f1_labels).toBeCloseTo(1 / 3);
    expect(s.per_report_f1).toBeCloseTo(0.25);
  });
});

describe('evaluateReports', () => {
  const data = [
    { text: 'The loader created a scheduled task with schtasks.', labels: ['T1053.005'], doc: 'r1' },
    { text: 'It dumped credentials from LSASS memory with Mimikatz.', labels: ['T1003.001'], doc: 'r1' },
    {
      text: 'FixtureDroid records the keystrokes typed into banking apps.',
      labels: ['T1417.001'],
      doc: 'r2',
    },
  ];

  it('scores whole reports, the aggregated sentences far above the whole text as one query', async () => {
    const sentences = await evaluateReports({ attack, data });
    expect(sentences).toMatchObject({ reports: 2, sentences: 3, method: 'sentences' });
    expect(sentences.domains).toEqual(['enterprise', 'mobile', 'ics']);
    expect(sentences.micro_recall).toBe(1);
    expect(sentences.params).toEqual(DEFAULT_REPORT_PARAMS);
    const whole = await evaluateReports({ attack, data, method: 'whole' });
    expect(whole.micro_recall).toBeLessThan(sentences.micro_recall);
    // Without Mobile, the Mobile label cannot be found.
    const enterprise = await evaluateReports({ attack, data, domains: ['enterprise'] });
    expect(enterprise.micro_recall).toBeCloseTo(2 / 3);
  });

  it('tunes on what it measures only when asked, and uses a selector’s choice', async () => {
    const tuned = await evaluateReports({ attack, data, tune: true });
    expect(tuned.tuned!.micro_f1).toBeGreaterThanOrEqual(tuned.micro_f1);
    const picky = await evaluateReports({
      attack,
      data,
      select: async (_text, mapping) => mapping.candidates.slice(0, 1).map((c) => c.technique_id),
    });
    expect(picky.selection).toEqual({ reports: 2, failed: 0, errors: [] });
    expect(picky.predicted_per_report).toBe(1);
    const failing = await evaluateReports({
      attack,
      data,
      select: async () => {
        throw new Error('model down');
      },
    });
    expect(failing.selection).toMatchObject({ failed: 2, errors: ['model down', 'model down'] });
    // A failed choice falls back to the mapper's decision.
    expect(failing.micro_f1).toBe((await evaluateReports({ attack, data })).micro_f1);
  });
});

const attackFile = sharedData('attack', 'enterprise-attack.json');
const spans = sharedData('text2ttp', 'tram2-spans.jsonl');
describe.skipIf(!attackFile || !spans)('on ATT&CK (three domains) and TRAM2 reports (dev split)', () => {
  it('aggregated sentences find most of a report’s techniques; the whole text as one query finds almost none', async () => {
    const full = readAttackDomains(resolveAttackBundles({ attack_path: attackFile! }).bundles);
    expect(full.domains!.map((d) => d.domain)).toEqual(['enterprise', 'mobile', 'ics']);
    const data = readLabelled(spans!);
    const r = await evaluateReports({ attack: full, data, split: 'dev' });
    const whole = await evaluateReports({ attack: full, data, split: 'dev', method: 'whole' });
    expect(r.reports).toBeGreaterThan(20);
    // Measured 0.67 micro-F1 (whole text: 0.03) when written; the floors catch a broken aggregation.
    expect(r.micro_f1).toBeGreaterThan(0.45);
    expect(r.parent.micro_f1).toBeGreaterThan(r.micro_f1);
    expect(whole.micro_f1).toBeLessThan(0.2);
  }, 180_000);
});
