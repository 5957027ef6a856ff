import {
  copyFileSync,
  existsSync,
  readdirSync,
  readFileSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/helpers/runtime.ts';
import { AisocError } from '../../errors.ts';
import { openStore } from '../../store/index.ts';
import { createMetrics, type Metrics } from '../../telemetry/metrics.ts';
import { KnowledgeConfig } from '../config.ts';
import { KnowledgeBase } from '../kb.ts';
import { knowledgeMetrics } from '../metrics.ts';
import { SnapshotReader, SnapshotWriter } from './format.ts';

const FIXTURE = join(import.meta.dirname, '..', 'attack', 'fixtures', 'mini-attack-stix21.json');

async function loads(metrics: Metrics, origin: string): Promise<number> {
  const m = (await knowledgeMetrics(metrics).knowledgeIndexLoads.get()).values.find(
    (v) => v.labels.origin === origin,
  );
  return m?.value ?? 0;
}

/** What a knowledge base answers, to compare one built by the worker with one read from the cache. */
async function answers(kb: KnowledgeBase) {
  return {
    retrieve: await kb.retrieve({ query: 'dump credentials from lsass memory', top_k: 5 }),
    kinds: await kb.retrieve({ query: 'lsass', top_k: 10, kinds: ['procedure'] }),
    technique: kb.technique('T1574.002'),
    lookup: kb.lookupTechnique('t1003.001'),
    mapped: await kb.mapTextToTechniques('they ran mimikatz sekurlsa::logonpasswords', { topK: 3 }),
    attack: kb.status().attack,
    collections: kb.listCollections(),
  };
}

describe('the knowledge index on disk', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  it('is written once by the build worker (mode 0600) and a restart loads it without building', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const config = KnowledgeConfig.parse({ attack_path: FIXTURE });
    const m1 = createMetrics({ defaultMetrics: false });
    const first = new KnowledgeBase({ config, dataDir: dir, metrics: m1 });
    await first.ready();
    const built = first.status().index!;
    expect(built.origin).toBe('worker');
    expect(built.file).toBeDefined();
    expect(statSync(built.file!).mode & 0o777).toBe(0o600);
    expect(await loads(m1, 'worker')).toBe(1);
    const expected = await answers(first);
    await first.close();

    const m2 = createMetrics({ defaultMetrics: false });
    const second = new KnowledgeBase({ config, dataDir: dir, metrics: m2 });
    await second.ready();
    expect(second.status().index).toMatchObject({ origin: 'cache', bytes: statSync(built.file!).size });
    expect(await loads(m2, 'cache')).toBe(1);
    expect(await loads(m2, 'worker')).toBe(0);
    expect(await answers(second)).toEqual(expected);
    await second.close();
    // No temporary files are left beside it.
    expect(readdirSync(join(dir, 'cache'))).toEqual([built.file!.split('/').pop()]);
  });

  it('is rebuilt when the bundle changes or the file is corrupt, and replaced, not kept beside', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const bundle = join(dir, 'attack.json');
    copyFileSync(FIXTURE, bundle);
    const config = KnowledgeConfig.parse({ attack_path: bundle });
    const kb1 = new KnowledgeBase({ config, dataDir: join(dir, 'data') });
    await kb1.ready();
    const file1 = kb1.status().index!.file!;
    await kb1.close();

    // A newer bundle (same content, new modification time) must not be served from the old index.
    utimesSync(bundle, new Date(), new Date(Date.now() + 60_000));
    const kb2 = new KnowledgeBase({ config, dataDir: join(dir, 'data') });
    await kb2.ready();
    const file2 = kb2.status().index!.file!;
    expect(kb2.status().index!.origin).toBe('worker');
    expect(file2).not.toBe(file1);
    expect(existsSync(file1)).toBe(false);
    await kb2.close();

    // A truncated file is refused and rebuilt, with a warning that says so.
    writeFileSync(file2, Buffer.alloc(100, 1));
    const kb3 = new KnowledgeBase({ config, dataDir: join(dir, 'data') });
    await kb3.ready();
    expect(kb3.status().index!.origin).toBe('worker');
    expect(kb3.status().warnings.join(' ')).toMatch(/cached knowledge index is unusable/);
    expect((await kb3.retrieve({ query: 'lsass', top_k: 1 })).results[0]!.metadata.technique_id).toBe(
      'T1003.001',
    );
    await kb3.close();
  });

  it('is rebuilt when the bundle is rewritten with the same size and modification time', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const bundle = join(dir, 'attack.json');
    copyFileSync(FIXTURE, bundle);
    const config = KnowledgeConfig.parse({ attack_path: bundle });
    const kb1 = new KnowledgeBase({ config, dataDir: join(dir, 'data') });
    await kb1.ready();
    expect((await kb1.retrieve({ query: 'zebrafishxy', top_k: 1 })).results).toEqual([]);
    await kb1.close();

    // Same length, same modification time, other content: only the change time tells.
    const before = statSync(bundle);
    const text = readFileSync(bundle, 'utf8');
    const edited = text.replace('Adversaries may read the memory', 'Zebrafishxy may read the memory');
    expect(edited).not.toBe(text);
    writeFileSync(bundle, edited);
    utimesSync(bundle, before.atimeMs / 1000, before.mtimeMs / 1000);
    const after = statSync(bundle);
    // The key holds whole milliseconds (what every file system keeps).
    expect([after.size, Math.trunc(after.mtimeMs)]).toEqual([before.size, Math.trunc(before.mtimeMs)]);

    const kb2 = new KnowledgeBase({ config, dataDir: join(dir, 'data') });
    await kb2.ready();
    expect(kb2.status().index!.origin).toBe('worker');
    expect((await kb2.retrieve({ query: 'zebrafishxy', top_k: 1 })).results[0]!.metadata.technique_id).toBe(
      'T1003.001',
    );
    await kb2.close();
  });

  it('refuses a cached file damaged inside (same length) by its checksum, rebuilds it and answers as before', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const config = KnowledgeConfig.parse({ attack_path: FIXTURE });
    const kb1 = new KnowledgeBase({ config, dataDir: dir });
    await kb1.ready();
    const file = kb1.status().index!.file!;
    const expected = await answers(kb1);
    await kb1.close();

    const bytes = readFileSync(file);
    const mid = bytes.length >> 1;
    for (let i = mid; i < mid + 64; i++) bytes[i] = bytes[i]! ^ 0xff;
    writeFileSync(file, bytes);

    const kb2 = new KnowledgeBase({ config, dataDir: dir });
    await kb2.ready();
    expect(kb2.status().index!.origin).toBe('worker');
    expect(kb2.status().warnings.join(' ')).toMatch(/unusable \(.*does not match the checksum/);
    expect(await answers(kb2)).toEqual(expected);
    await kb2.close();
    // The rebuilt file replaced the damaged one, under the same name (same inputs, same bytes).
    expect(readdirSync(join(dir, 'cache'))).toEqual([file.split('/').pop()]);
    expect(readFileSync(file).equals(bytes)).toBe(false);

    const kb3 = new KnowledgeBase({ config, dataDir: dir });
    await kb3.ready();
    expect(kb3.status().index!.origin).toBe('cache');
    await kb3.close();
  });

  it('rebuilds without the heap limit, with a warning, when the build thread runs out of memory', async () => {
    const kb = new KnowledgeBase({
      config: KnowledgeConfig.parse({ attack_path: FIXTURE, build_heap_limit_mb: 1 }),
    });
    await kb.ready();
    expect(kb.status().warnings.join(' ')).toMatch(
      /needed more than knowledge.build_heap_limit_mb \(1 MiB\)/,
    );
    expect(kb.status().index!.origin).toBe('worker');
    expect((await kb.retrieve({ query: 'lsass', top_k: 1 })).results[0]!.metadata.technique_id).toBe(
      'T1003.001',
    );
    await kb.close();
  });

  it('is not written for an in-memory knowledge base or with knowledge.cache_index off', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const memory = new KnowledgeBase({ config: KnowledgeConfig.parse({ attack_path: FIXTURE }) });
    await memory.ready();
    expect(memory.status().index).toMatchObject({ origin: 'worker' });
    expect(memory.status().index!.file).toBeUndefined();
    await memory.close();
    const off = new KnowledgeBase({
      config: KnowledgeConfig.parse({ attack_path: FIXTURE, cache_index: false }),
      dataDir: dir,
    });
    await off.ready();
    expect(existsSync(join(dir, 'cache'))).toBe(false);
    await off.close();
  });

  it('is shared through knowledge.index_cache_dir, by in-memory knowledge bases too, and never read for a held build', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const shared = join(dir, 'shared-index');
    const config = KnowledgeConfig.parse({ attack_path: FIXTURE, index_cache_dir: shared });
    const first = new KnowledgeBase({ config });
    await first.ready();
    expect(first.status().index).toMatchObject({ origin: 'worker' });
    expect(readdirSync(shared)).toHaveLength(1);
    await first.close();
    const second = new KnowledgeBase({ config });
    await second.ready();
    expect(second.status().index!.origin).toBe('cache');
    await second.close();
    // A held build exists to test the build itself: it ignores the cache.
    const hold = new Int32Array(new SharedArrayBuffer(4));
    const held = new KnowledgeBase({ config, holdBuild: hold });
    await held.ready();
    expect(held.status().index!.origin).toBe('worker');
    await held.close();
  });

  it('keeps a document added at run time under a built-in id after a restart from the cache', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const store = await openStore({});
    try {
      const config = KnowledgeConfig.parse({ attack_path: FIXTURE });
      const kb1 = new KnowledgeBase({ config, dataDir: dir, db: store.client });
      await kb1.ready();
      await kb1.addDocuments(
        'mitre_attack',
        [
          {
            id: 'T1003.001',
            title: 'Local note on LSASS',
            text: 'zebrafish procedure',
            metadata: { kind: 'note' },
          },
        ],
        'tester',
      );
      const size = kb1.listCollections().find((c) => c.name === 'mitre_attack')!.documents;
      await kb1.close();
      const kb2 = new KnowledgeBase({ config, dataDir: dir, db: store.client });
      await kb2.ready();
      expect(kb2.status().index!.origin).toBe('cache');
      const hit = (await kb2.retrieve({ query: 'zebrafish', top_k: 1 })).results[0]!;
      expect(hit).toMatchObject({ id: 'T1003.001', title: 'Local note on LSASS' });
      // Replaced, not added beside: the old text no longer matches, and the count is unchanged.
      expect(
        (await kb2.retrieve({ query: 'lsass memory', top_k: 10, kinds: ['technique'] })).results.map(
          (h) => h.id,
        ),
      ).not.toContain('T1003.001');
      expect(kb2.listCollections().find((c) => c.name === 'mitre_attack')!.documents).toBe(size);
      await kb2.close();
    } finally {
      await store.close();
    }
  });
});

describe('snapshot format', () => {
  it('round-trips arrays, strings and sorted terms, and refuses what it did not write', () => {
    const w = new SnapshotWriter();
    w.meta('label', { v: 'ATT&CK v18.1' });
    w.array('lengths', new Float32Array([1.5, 2, 3]));
    w.array('ids', new Int32Array([-1, 7]));
    w.strings('names', ['T1003', 'Été', '', 'λ-calculus']);
    const order = w.sortedStrings('terms', ['zeta', 'alpha', 'émile', 'beta']);
    const bytes = new Uint8Array(w.finish());
    const r = SnapshotReader.open(bytes);
    expect(r.meta('label')).toEqual({ v: 'ATT&CK v18.1' });
    expect([...r.f32('lengths')]).toEqual([1.5, 2, 3]);
    expect([...r.i32('ids')]).toEqual([-1, 7]);
    expect(r.strings('names').all()).toEqual(['T1003', 'Été', '', 'λ-calculus']);
    const terms = r.terms('terms');
    expect(terms.all()).toEqual(['alpha', 'beta', 'zeta', 'émile']);
    expect([...order]).toEqual([1, 3, 0, 2]);
    expect(terms.find('zeta')).toBe(2);
    expect(terms.find('émile')).toBe(3);
    expect(terms.find('gamma')).toBe(-1);
    // Characters beyond U+FFFF sort after U+FFFD in UTF-8 (code points), though not in JavaScript's order.
    const w2 = new SnapshotWriter();
    const astral = ['\u{1F600}x', '\uFFFD', 'a', '\u{1F600}', 'é'];
    w2.sortedStrings('t', astral);
    const t2 = SnapshotReader.open(w2.finish()).terms('t');
    expect(t2.all()).toEqual(['a', 'é', '\uFFFD', '\u{1F600}', '\u{1F600}x']);
    for (const x of astral) expect(t2.get(t2.find(x))).toBe(x);
    expect(() => r.u32('lengths')).toThrow(AisocError);
    expect(() => r.f32('absent')).toThrow(/missing/);
    // Truncated, foreign, or a byte offset that is not aligned (copied, then read).
    expect(() => SnapshotReader.open(bytes.subarray(0, bytes.length - 8))).toThrow(/expected/);
    expect(() => SnapshotReader.open(Buffer.from('{"type":"bundle"}'))).toThrow(/not a knowledge index/);
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    expect(SnapshotReader.open(shifted.subarray(1)).strings('names').get(1)).toBe('Été');
  });
});
