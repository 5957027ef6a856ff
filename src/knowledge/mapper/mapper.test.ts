import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sharedData } from '../../../test/helpers/data.ts';
import type { AisocError } from '../../errors.ts';
import { parseAttackBundle, readAttackBundle } from '../attack/load.ts';
import { SnapshotReader, SnapshotWriter } from '../snapshot/format.ts';
import { annoctrToLabelled, documentKey, parseLabelled, readLabelled, splitOf } from './datasets.ts';
import { evaluateMapping } from './evaluate.ts';
import { mapTextToTechniques, TechniqueMapper } from './index.ts';
import { bestThreshold, foldToParents, scoreMapping } from './metrics.ts';

const attack = parseAttackBundle(
  JSON.parse(readFileSync(join(import.meta.dirname, '../attack/fixtures/mini-attack-stix20.json'), 'utf8')),
);

describe('scoreMapping', () => {
  const r = (...pairs: Array<[string, number]>) =>
    pairs.map(([technique_id, score]) => ({ technique_id, score }));

  it('computes top-1, recall@5 and micro/macro F1 at the threshold', () => {
    const s = scoreMapping(
      [
        { gold: ['T1'], ranked: r(['T1', 0.9], ['T2', 0.5]) }, // T1 tp, T2 fp
        { gold: ['T2', 'T3'], ranked: r(['T4', 0.2], ['T2', 0.1]) }, // nothing predicted: T2, T3 fn
        { gold: ['T3'], ranked: r(['T3', 0.6]) }, // tp
      ],
      0.4,
    );
    expect(s.n).toBe(3);
    expect(s.top1).toBeCloseTo(2 / 3);
    expect(s.recall_at_5).toBeCloseTo((1 + 0.5 + 1) / 3);
    // tp 2, fp 1, fn 2 → F1 = 4 / 7
    expect(s.micro_f1).toBeCloseTo(4 / 7);
    // T1: 1; T2: tp0 fp1 fn1 → 0; T3: tp1 fn1 → 2/3 → mean over 3 techniques
    expect(s.macro_f1).toBeCloseTo((1 + 0 + 2 / 3) / 3);
  });

  it('folds sub-techniques into parents, keeping the best rank', () => {
    const f = foldToParents({
      gold: ['T1059.001'],
      ranked: r(['T1059.003', 0.8], ['T1059', 0.5], ['T1003.001', 0.4]),
    });
    expect(f).toEqual({ gold: ['T1059'], ranked: r(['T1059', 0.8], ['T1003', 0.4]) });
  });

  it('finds the threshold that maximises micro-F1', () => {
    const items = [
      { gold: ['A'], ranked: r(['A', 0.9], ['B', 0.3]) },
      { gold: ['B'], ranked: r(['B', 0.5], ['A', 0.2]) },
    ];
    const best = bestThreshold(items);
    expect(best.micro_f1).toBe(1);
    expect(best.threshold).toBeGreaterThan(0.3);
    expect(best.threshold).toBeLessThanOrEqual(0.5);
  });
});

describe('labelled data', () => {
  it('reads JSONL and TRAM-style arrays, normalising ids and document keys', () => {
    const jsonl = parseLabelled(
      '{"text":"a","labels":["t1059/001"],"doc":"r1"}\n\n{"text":"b","label":"T1003"}\n',
      'x.jsonl',
    );
    expect(jsonl).toEqual([
      { text: 'a', labels: ['T1059.001'], doc: 'r1' },
      { text: 'b', labels: ['T1003'] },
    ]);
    const arr = parseLabelled('[{"text":"c","label":"T1027","doc_title":"Report"}]', 'x.json');
    expect(arr).toEqual([{ text: 'c', labels: ['T1027'], doc: 'Report' }]);
  });

  it('names the line and field of a bad record', () => {
    const err = (content: string) => {
      try {
        parseLabelled(content, 'd.jsonl');
      } catch (e) {
        return e as AisocError;
      }
      throw new Error('expected an error');
    };
    expect(err('{"text":"a","labels":["T1"]}')).toMatchObject({ line: 1, field: 'labels.0' });
    expect(err('{"text":"a","labels":["T1059"]}\n{"text":""}')).toMatchObject({ line: 2, field: 'text' });
    expect(err('{"text":"a"}')).toMatchObject({ field: 'labels' });
    expect(err('{"text":')).toMatchObject({ code: 'AISOC_ERR_BAD_JSON', line: 1 });
  });

  it('splits by document: every text of a document on one side, stable across files', () => {
    const docs = Array.from({ length: 400 }, (_, i) => `doc-${i}`);
    const splits = docs.map((doc) => splitOf({ text: 'x', labels: [], doc }));
    const share = (s: string) => splits.filter((x) => x === s).length / docs.length;
    expect(share('test')).toBeGreaterThan(0.12);
    expect(share('test')).toBeLessThan(0.28);
    expect(share('dev')).toBeGreaterThan(0.12);
    expect(share('train')).toBeGreaterThan(0.5);
    expect(splitOf({ text: 'one', labels: [], doc: 'doc-7' })).toBe(
      splitOf({ text: 'two', labels: ['T1'], doc: 'doc-7' }),
    );
    expect(documentKey({ text: ' Same Text ', labels: [] })).toBe(
      documentKey({ text: 'same text', labels: [] }),
    );
  });

  it('converts AnnoCTR technique mentions to labelled sentences', () => {
    const line = (o: Record<string, string>) =>
      JSON.stringify({ document: 'd1', _context_left: 'They used ', _context_right: ' to persist.', ...o });
    const out = annoctrToLabelled(
      [
        line({
          mention: 'a scheduled task',
          label_link: 'https://attack.mitre.org/techniques/T1053/005',
          entity_type: 'TECHNIQUE',
        }),
        line({ mention: 'APT1', label_link: 'https://attack.mitre.org/groups/G0006', entity_type: 'GROUP' }),
      ].join('\n'),
      'a.jsonl',
    );
    expect(out).toEqual([
      { text: 'They used a scheduled task to persist.', labels: ['T1053.005'], doc: 'd1' },
    ]);
  });
});

describe('TechniqueMapper', () => {
  const mapper = TechniqueMapper.fit(attack);

  it('ranks the technique whose words and procedure examples match', () => {
    expect(mapper.rank('schtasks /create a scheduled task named Updater')[0]!.technique_id).toBe('T1053.005');
    expect(mapper.rank('StopLogging was called on the CloudTrail trail')[0]!.technique_id).toBe('T1562.008');
    expect(mapper.rank('base64 encoded powershell downloader')[0]!.technique_id).toBe('T1059.001');
  });

  it('returns evidence: the passages that matched, with their source', () => {
    const [top] = mapper.map('mimikatz sekurlsa::logonpasswords', { topK: 3 });
    expect(top!.technique_id).toBe('T1003.001');
    expect(top!.name).toBe('OS Credential Dumping: LSASS Memory');
    expect(top!.evidence[0]).toMatchObject({ kind: 'procedure', source_id: 'S0002' });
    expect(top!.evidence[0]!.text).toContain('sekurlsa::logonpasswords');
  });

  it('predicts nothing for text unlike anything in ATT&CK, and ranks when asked', () => {
    expect(mapper.map('quarterly revenue meeting moved to thursday')).toEqual([]);
    expect(mapper.map('')).toEqual([]);
    const ranked = mapTextToTechniques(mapper, 'a legitimate executable loads a DLL', {
      threshold: 0,
      topK: 2,
    });
    expect(ranked.length).toBeGreaterThan(0);
    expect(ranked[0]!.technique_id).toBe('T1574.001');
  });

  it('learns from extra labelled text, mapping revoked labels to their replacement', () => {
    const extra = [
      { text: 'the zorbulator implant was planted next to a signed binary', labels: ['T1574.002'] },
    ];
    const fitted = TechniqueMapper.fit(attack, { extra });
    expect(fitted.trainedOn.extra_examples).toBe(1);
    expect(fitted.rank('zorbulator implant')[0]!.technique_id).toBe('T1574.001');
  });

  it('answers the same after a round trip through a snapshot', () => {
    const w = new SnapshotWriter();
    mapper.writeTo(w, 'mapper');
    const copy = TechniqueMapper.readFrom(SnapshotReader.open(w.finish()), 'mapper');
    expect(copy.trainedOn).toEqual(mapper.trainedOn);
    expect(copy.params).toEqual(mapper.params);
    for (const text of [
      'mimikatz sekurlsa::logonpasswords',
      'schtasks /create a scheduled task named Updater',
      'StopLogging was called on the CloudTrail trail',
      'words ATT&CK never uses',
    ])
      expect(copy.map(text, { topK: 5, threshold: 0 })).toEqual(mapper.map(text, { topK: 5, threshold: 0 }));
  });
});

describe('evaluateMapping', () => {
  it('never fits on the documents it measures', () => {
    const data = [{ text: 'the zorbulator writes a scheduled task', labels: ['T1053.005'], doc: 'report-a' }];
    const train = [
      { text: 'the zorbulator reads lsass memory', labels: ['T1003.001'], doc: 'report-a' }, // same document: dropped
      { text: 'the zorbulator writes a scheduled task', labels: ['T1003.001'], doc: 'report-b' }, // same text: dropped
      { text: 'unrelated words about grapes', labels: ['T1059'], doc: 'report-c' },
    ];
    const r = evaluateMapping({ attack, data, train });
    expect(r.training).toMatchObject({ extra_examples: 1, dropped_overlapping: 2 });
    expect(r.top1).toBe(1);
    expect(r.parent.top1).toBe(1);
  });

  it('measures only the chosen split and trains only on earlier ones', () => {
    const data = Array.from({ length: 60 }, (_, i) => ({
      text: `scheduled task ${i}`,
      labels: ['T1053.005'],
      doc: `d${i}`,
    }));
    const test = evaluateMapping({ attack, data, train: data, split: 'test' });
    const nTest = data.filter((e) => splitOf(e) === 'test').length;
    expect(test.n).toBe(nTest);
    expect(test.training.extra_examples).toBe(data.length - nTest);
    const dev = evaluateMapping({ attack, data, train: data, split: 'dev' });
    expect(dev.training.extra_examples).toBe(data.filter((e) => splitOf(e) === 'train').length);
  });

  it('reports labels of revoked techniques as remapped and unknown ones as misses', () => {
    const r = evaluateMapping({
      attack,
      data: [
        { text: 'signed binary side-loads a DLL', labels: ['T1574.002'] },
        { text: 'something', labels: ['T1629'] },
      ],
    });
    expect(r.remapped_labels).toBe(1);
    expect(r.unknown_labels).toEqual(['T1629']);
  });
});

const attackFile = sharedData('attack', 'enterprise-attack.json');
const tram = sharedData('text2ttp', 'tram2-single-label.json');
describe.skipIf(!attackFile || !tram)('on Enterprise ATT&CK and TRAM2 (dev split)', () => {
  it('fitted on ATT&CK alone, ranks the labelled technique first for most report sentences', () => {
    const full = readAttackBundle(attackFile!);
    const r = evaluateMapping({ attack: full, data: readLabelled(tram!), split: 'dev' });
    expect(r.n).toBeGreaterThan(500);
    // Measured 0.59 top-1 and 0.83 recall@5 when written; a floor well below catches a broken mapper.
    expect(r.top1).toBeGreaterThan(0.45);
    expect(r.recall_at_5).toBeGreaterThan(0.7);
    expect(r.parent.top1).toBeGreaterThan(r.top1);
  }, 120_000);
});

describe('per-document F1', () => {
  it('unions predictions and labels per document', () => {
    const r = evaluateMapping({
      attack,
      data: [
        { text: 'schtasks /create a scheduled task named Updater', labels: ['T1053.005'], doc: 'r1' },
        { text: 'StopLogging was called on the CloudTrail trail', labels: ['T1003.001'], doc: 'r1' },
        { text: 'base64 encoded powershell downloader', labels: ['T1059.001'], doc: 'r2' },
      ],
    });
    // r1: predicted {T1053.005, T1562.008}, gold {T1053.005, T1003.001} → 0.5; r2: 1 → mean 0.75.
    expect(r.documents).toBe(2);
    expect(r.per_document_f1).toBe(0.75);
  });
});
