import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { AisocError } from '../../errors.ts';
import { SnapshotReader, SnapshotWriter } from '../snapshot/format.ts';
import { Bm25Index } from './bm25.ts';
import { fuseRanks } from './hybrid.ts';
import { TopK } from './topk.ts';
import { VectorStore } from './vectors.ts';

function corpus(): Bm25Index {
  const index = new Bm25Index({ fieldWeights: { title: 2 } });
  index.add('lsass', {
    title: 'LSASS Memory',
    text: 'Adversaries read the memory of lsass.exe to dump credentials.',
  });
  index.add('sched', {
    title: 'Scheduled Task',
    text: 'Adversaries create a scheduled task with schtasks to persist.',
  });
  index.add('cloud', {
    title: 'Disable Cloud Logs',
    text: 'Adversaries call StopLogging on a CloudTrail trail.',
  });
  index.add('ps', { title: 'PowerShell', text: 'Adversaries run encoded PowerShell commands.' });
  return index;
}

describe('Bm25Index', () => {
  it('ranks the document that matches the query best first', () => {
    const index = corpus();
    expect(index.search('dump lsass credentials')[0]?.id).toBe('lsass');
    expect(index.search('cloudtrail stop logging')[0]?.id).toBe('cloud');
    expect(index.search('schtasks')[0]?.id).toBe('sched');
    expect(index.search('nothing matches this')).toEqual([]);
    expect(index.search('   ')).toEqual([]);
  });

  it('weighs the title field above the text', () => {
    const index = new Bm25Index({ fieldWeights: { title: 3 } });
    index.add('body', { title: 'Other', text: 'powershell appears here in the body text' });
    index.add('title', { title: 'PowerShell', text: 'some unrelated words in the body text' });
    expect(index.search('powershell')[0]?.id).toBe('title');
  });

  it('reports similarity in [0, 1], monotone with the score, and 1 only for the best possible match', () => {
    const index = corpus();
    const hits = index.search('adversaries dump credentials from lsass memory', { topK: 4 });
    expect(hits.length).toBeGreaterThan(1);
    for (const h of hits) expect(h.similarity).toBeGreaterThan(0);
    for (const h of hits) expect(h.similarity).toBeLessThan(1);
    for (let i = 1; i < hits.length; i++)
      expect(hits[i]!.similarity).toBeLessThanOrEqual(hits[i - 1]!.similarity);
    // Words no document holds count against every document.
    const withNoise = index.search('dump lsass credentials zzqx wwvy', { topK: 1 })[0]!;
    expect(withNoise.similarity).toBeLessThan(
      index.search('dump lsass credentials', { topK: 1 })[0]!.similarity,
    );
  });

  it('applies minSimilarity, topK and filters', () => {
    const index = corpus();
    const all = index.search('adversaries', { topK: 10 });
    expect(all).toHaveLength(4);
    expect(index.search('adversaries', { topK: 2 })).toHaveLength(2);
    expect(
      index.search('adversaries', { topK: 10, filter: (id) => id !== 'ps' }).map((h) => h.id),
    ).not.toContain('ps');
    const strict = index.search('lsass scheduled', { minSimilarity: 0.3 });
    for (const h of strict) expect(h.similarity).toBeGreaterThanOrEqual(0.3);
  });

  it('replaces and removes documents, keeping document frequencies exact', () => {
    const index = corpus();
    index.add('ps', { title: 'PowerShell', text: 'now about lsass too' });
    expect(index.size).toBe(4);
    expect(
      index
        .search('lsass')
        .map((h) => h.id)
        .sort(),
    ).toEqual(['lsass', 'ps']);
    expect(index.remove('lsass')).toBe(true);
    expect(index.remove('lsass')).toBe(false);
    expect(index.search('lsass').map((h) => h.id)).toEqual(['ps']);
    const fresh = new Bm25Index({ fieldWeights: { title: 2 } });
    fresh.add('sched', {
      title: 'Scheduled Task',
      text: 'Adversaries create a scheduled task with schtasks to persist.',
    });
    fresh.add('cloud', {
      title: 'Disable Cloud Logs',
      text: 'Adversaries call StopLogging on a CloudTrail trail.',
    });
    fresh.add('ps', { title: 'PowerShell', text: 'now about lsass too' });
    // Same live documents, same scores, however they got there.
    expect(index.search('adversaries lsass task')).toEqual(fresh.search('adversaries lsass task'));
  });

  it('compacts after many removals and still answers the same', () => {
    const index = new Bm25Index();
    for (let i = 0; i < 300; i++) index.add(`d${i}`, { text: `word${i % 7} common shared term${i}` });
    for (let i = 0; i < 200; i++) index.remove(`d${i}`);
    const fresh = new Bm25Index();
    for (let i = 200; i < 300; i++) fresh.add(`d${i}`, { text: `word${i % 7} common shared term${i}` });
    expect(index.search('word3 common', { topK: 5 })).toEqual(fresh.search('word3 common', { topK: 5 }));
  });

  it('round-trips through a snapshot, then takes additions and removals like a fresh index', () => {
    const index = corpus();
    index.remove('ps');
    const w = new SnapshotWriter();
    index.writeTo(w, 'bm25');
    const copy = Bm25Index.readFrom(SnapshotReader.open(w.finish()), 'bm25');
    expect(copy.size).toBe(3);
    expect(copy.search('adversaries schtasks lsass', { topK: 3 })).toEqual(
      index.search('adversaries schtasks lsass', { topK: 3 }),
    );
    // Replace a base document, remove another, add a new one: same as building the result from scratch.
    copy.add('sched', { title: 'Scheduled Task', text: 'now about lsass and cron' });
    copy.remove('cloud');
    copy.add('ps', { title: 'PowerShell', text: 'Adversaries run encoded PowerShell commands.' });
    expect(() => copy.writeTo(new SnapshotWriter(), 'again')).toThrow(AisocError);
    const fresh = new Bm25Index({ fieldWeights: { title: 2 } });
    fresh.add('lsass', {
      title: 'LSASS Memory',
      text: 'Adversaries read the memory of lsass.exe to dump credentials.',
    });
    fresh.add('sched', { title: 'Scheduled Task', text: 'now about lsass and cron' });
    fresh.add('ps', { title: 'PowerShell', text: 'Adversaries run encoded PowerShell commands.' });
    for (const q of ['adversaries lsass', 'cloudtrail stoplogging', 'cron powershell memory'])
      expect(copy.search(q, { topK: 5 })).toEqual(fresh.search(q, { topK: 5 }));
    expect(copy.size).toBe(3);
    expect(copy.has('cloud')).toBe(false);
  });
});

describe('TopK', () => {
  it('keeps the same items as a full sort', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ noNaN: true, min: -1e6, max: 1e6 }), { maxLength: 200 }),
        fc.integer({ min: 1, max: 20 }),
        (scores, k) => {
          const top = new TopK(k);
          scores.forEach((s, i) => {
            top.push(i, s);
          });
          const expected = scores
            .map((score, id) => ({ id, score }))
            .sort((a, b) => b.score - a.score || a.id - b.id)
            .slice(0, k);
          expect(top.sorted()).toEqual(expected);
        },
      ),
    );
  });
});

describe('fuseRanks', () => {
  it('normalises so that first everywhere is 1 and first in one of two equal lists is 0.5', () => {
    const fused = fuseRanks(
      [
        { weight: 1, ids: ['a', 'b', 'c'] },
        { weight: 1, ids: ['a', 'c'] },
      ],
      60,
    );
    expect(fused[0]).toEqual({ id: 'a', similarity: 1, ranks: [1, 1] });
    expect(fused.map((f) => f.id)).toEqual(['a', 'c', 'b']);
    expect(
      fuseRanks([
        { weight: 1, ids: ['x'] },
        { weight: 1, ids: [] },
      ])[0]!.similarity,
    ).toBe(0.5);
  });

  it('lets weights favour one list', () => {
    const fused = fuseRanks(
      [
        { weight: 3, ids: ['lex'] },
        { weight: 1, ids: ['dense'] },
      ],
      60,
    );
    expect(fused.map((f) => f.id)).toEqual(['lex', 'dense']);
    expect(fused[0]!.similarity).toBeCloseTo(0.75);
  });
});

describe('VectorStore', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aisoc-vectors-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds the nearest vectors by cosine, whatever their length', () => {
    const store = new VectorStore('m');
    store.upsert('x', [10, 0, 0], 'h1');
    store.upsert('y', [0, 2, 0], 'h2');
    store.upsert('xy', [1, 1, 0], 'h3');
    const hits = store.search([1, 0.1, 0], 2);
    expect(hits.map((h) => h.id)).toEqual(['x', 'xy']);
    expect(hits[0]!.similarity).toBeCloseTo(1 / Math.sqrt(1.01), 5);
    expect(store.search([1, 0, 0], 3, (id) => id !== 'x').map((h) => h.id)).toEqual(['xy', 'y']);
  });

  it('refuses vectors of another dimension, naming the model', () => {
    const store = new VectorStore('nomic');
    store.upsert('a', [1, 2], 'h');
    expect(() => store.upsert('b', [1, 2, 3], 'h')).toThrow(
      /3 dimensions; the store holds 2 \(model nomic\)/,
    );
    expect(() => store.search([1], 1)).toThrow(AisocError);
  });

  it('reuses rows of removed vectors and saves and loads losslessly', () => {
    const store = new VectorStore('m');
    store.upsert('a', [1, 0], 'ha');
    store.upsert('b', [0, 1], 'hb');
    store.remove('a');
    store.upsert('c', [1, 1], 'hc');
    expect(store.size).toBe(2);
    const file = join(dir, 'v.bin');
    store.save(file);
    const back = VectorStore.load(file, 'm');
    expect(back.size).toBe(2);
    expect(back.hashOf('c')).toBe('hc');
    expect(back.hashOf('a')).toBeUndefined();
    expect(back.search([1, 1], 2)).toEqual(store.search([1, 1], 2));
  });

  it('refuses a file of another model or a damaged file', () => {
    const store = new VectorStore('m');
    store.upsert('a', [1, 0], 'ha');
    const file = join(dir, 'w.bin');
    store.save(file);
    expect(() => VectorStore.load(file, 'other')).toThrow(/holds vectors of model m, not other/);
    writeFileSync(join(dir, 'bad.bin'), 'not a header\n');
    expect(() => VectorStore.load(join(dir, 'bad.bin'), 'm')).toThrow(/no valid header/);
    writeFileSync(
      join(dir, 'short.bin'),
      `${JSON.stringify({ format: 'aisoc-vectors/1', model: 'm', dimensions: 4, ids: ['a'], hashes: ['h'] })}\n12`,
    );
    expect(() => VectorStore.load(join(dir, 'short.bin'), 'm')).toThrow(/truncated/);
  });
});
