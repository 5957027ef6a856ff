import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AisocError } from '../errors.ts';
import { openStore, type Store } from '../store/index.ts';
import { KnowledgeConfig } from './config.ts';
import { type FakeEmbeddingServer, startFakeEmbeddingServer } from './embeddings/testing.ts';
import { KnowledgeBase } from './kb.ts';

const FIXTURE = join(import.meta.dirname, 'attack', 'fixtures', 'mini-attack-stix21.json');
const CVE = join(import.meta.dirname, 'fixtures', 'nvd-cve-2.0-sample.json');

async function failure(p: Promise<unknown> | (() => unknown)): Promise<AisocError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    if (err instanceof AisocError) return err;
    throw err;
  }
  throw new Error('expected an AisocError');
}

const config = (over: Record<string, unknown> = {}) =>
  KnowledgeConfig.parse({ attack_path: FIXTURE, cve_files: [CVE], ...over });

describe('KnowledgeBase (lexical)', () => {
  let store: Store;
  let kb: KnowledgeBase;
  beforeAll(async () => {
    store = await openStore({});
    kb = new KnowledgeBase({ config: config(), db: store.client });
  });
  afterAll(async () => {
    await kb.close();
    await store.close();
  });

  it('answers 503 with Retry-After while loading, then serves', async () => {
    expect(kb.state).toBe('idle');
    const err = await failure(kb.retrieve({ query: 'lsass' }));
    expect(err.code).toBe('AISOC_ERR_KNOWLEDGE_LOADING');
    expect(err.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    await kb.ready();
    expect(kb.state).toBe('ready');
    expect(kb.status().attack).toMatchObject({ version: 'ATT&CK v18.1', techniques: 10, procedures: 6 });
  });

  it('retrieves ATT&CK documents with similarity in [0, 1], filtered by kind and min_similarity', async () => {
    const r = await kb.retrieve({ query: 'dump credentials from lsass memory', top_k: 5 });
    expect(r.mode).toBe('lexical');
    expect(r.results[0]!.metadata.technique_id).toBe('T1003.001');
    expect(r.total_results).toBe(r.results.length);
    for (const h of r.results) {
      expect(h.similarity_score).toBeGreaterThan(0);
      expect(h.similarity_score).toBeLessThanOrEqual(1);
    }
    const techniques = await kb.retrieve({ query: 'lsass', top_k: 10, kinds: ['technique'] });
    expect(techniques.results.every((h) => h.metadata.kind === 'technique')).toBe(true);
    const procedures = await kb.retrieve({ query: 'lsass', top_k: 10, kinds: ['procedure'] });
    expect(procedures.results.map((h) => h.metadata.source_id).sort()).toEqual(['G9001', 'S0002']);
    const loose = await kb.retrieve({ query: 'dump credentials from lsass memory', top_k: 10 });
    const strict = await kb.retrieve({
      query: 'dump credentials from lsass memory',
      top_k: 10,
      min_similarity: 0.3,
    });
    expect(strict.results.length).toBeGreaterThan(0);
    expect(strict.results.length).toBeLessThan(loose.results.length);
    for (const h of strict.results) expect(h.similarity_score).toBeGreaterThanOrEqual(0.3);
  });

  it('serves runbooks and CVEs, and refuses unknown collections and modes it cannot run', async () => {
    const rb = await kb.retrieve({ query: 'disable the access key', collection: 'runbooks', top_k: 3 });
    expect(rb.results[0]!.metadata.runbook).toBe('disable-iam-access-key');
    const cve = await kb.retrieve({ query: 'logthing lookup remote code', collection: 'cve', top_k: 1 });
    expect(cve.results[0]!.id).toBe('CVE-2099-0001');
    expect((await failure(kb.retrieve({ query: 'x', collection: 'nope' }))).field).toBe('collection');
    expect((await failure(kb.retrieve({ query: 'x', mode: 'dense' }))).field).toBe('mode');
  });

  it('adds documents that persist in the database, and removes them', async () => {
    await kb.addDocuments(
      'threat_intel',
      [
        {
          id: 'ti-1',
          title: 'Fixture Panda infrastructure',
          text: 'Fixture Panda uses example.net for C2.\u0000',
          metadata: { tlp: 'amber' },
        },
      ],
      'tester',
    );
    const hit = (await kb.retrieve({ query: 'fixture panda c2', collection: 'threat_intel' })).results[0]!;
    expect(hit.id).toBe('ti-1');
    expect(hit.document).not.toContain('\u0000');
    const again = new KnowledgeBase({
      config: config({ attack_path: join(tmpdir(), 'absent.json') }),
      db: store.client,
    });
    await again.ready();
    expect((await again.retrieve({ query: 'example.net', collection: 'threat_intel' })).results[0]!.id).toBe(
      'ti-1',
    );
    expect(await again.removeDocument('threat_intel', 'ti-1')).toBe(true);
    expect(await again.removeDocument('mitre_attack', 'T1003')).toBe(false);
    expect((await again.retrieve({ query: 'example.net', collection: 'threat_intel' })).results).toEqual([]);
    await again.close();
  });

  it('indexes a closed incident so the next analyst finds it', async () => {
    const doc = await kb.indexIncident({
      case: {
        id: '0190e0a0-0000-7000-8000-0000000000aa',
        title: 'SSH brute force on bastion',
        status: 'closed',
        resolution: 'true_positive',
        severity: 'medium',
        tasks: [],
        observables: [{ type: 'ip', value: '203.0.113.50', ioc: true }],
        comments: [
          {
            id: 'c1',
            author: 'ana',
            text: 'Blocked the source at the WAF.',
            created_at: '2099-01-01T00:00:00Z',
          },
        ],
        timeline: [],
        created_at: '2099-01-01T00:00:00Z',
        updated_at: '2099-01-01T00:00:00Z',
      },
    });
    const r = await kb.retrieve({ query: 'brute force 203.0.113.50', collection: 'incidents' });
    expect(r.results[0]!.id).toBe(doc.id);
    expect(r.results[0]!.metadata).toMatchObject({ kind: 'case', resolution: 'true_positive' });
  });

  it('explains a technique, resolving revoked ids', () => {
    const v = kb.technique('t1574/002');
    expect(v.technique.id).toBe('T1574.001');
    expect(v.replaces).toBe('T1574.002');
    const lsass = kb.technique('T1003.001');
    expect(lsass.parent).toEqual({ id: 'T1003', name: 'OS Credential Dumping' });
    expect(lsass.tactics).toEqual([
      { id: 'TA0006', name: 'Credential Access', shortname: 'credential-access' },
    ]);
    expect(lsass.procedure_count).toBe(2);
    expect(lsass.detection_strategies[0]!.analytics[0]!.log_sources).toEqual(['sysmon (EventCode=10)']);
    expect(() => kb.technique('T9999')).toThrow(/No ATT&CK technique T9999/);
  });

  it('maps text to techniques with evidence', async () => {
    const m = await kb.mapTextToTechniques('they ran mimikatz sekurlsa::logonpasswords against lsass.exe', {
      topK: 3,
    });
    expect(m[0]!.technique_id).toBe('T1003.001');
    expect(m[0]!.evidence.length).toBeGreaterThan(0);
    expect(m[0]!.evidence.some((e) => e.kind === 'procedure' && e.source_id === 'S0002')).toBe(true);
  });
});

describe('KnowledgeBase without ATT&CK', () => {
  it('still serves runbooks and says how to get ATT&CK', async () => {
    const kb = new KnowledgeBase({ config: config({ attack_path: join(tmpdir(), 'no-such-bundle.json') }) });
    await kb.ready();
    const err = await failure(kb.retrieve({ query: 'lsass' }));
    expect(err.code).toBe('AISOC_ERR_KNOWLEDGE_UNAVAILABLE');
    expect(err.message).toContain('no-such-bundle.json');
    expect(
      (await kb.retrieve({ query: 'quarantine instance', collection: 'runbooks' })).results.length,
    ).toBeGreaterThan(0);
    expect((await failure(kb.mapTextToTechniques('x'))).code).toBe('AISOC_ERR_KNOWLEDGE_UNAVAILABLE');
    await kb.close();
  });
});

describe('KnowledgeBase with embeddings', () => {
  let server: FakeEmbeddingServer;
  const dataDir = mkdtempSync(join(tmpdir(), 'aisoc-kb-vectors-'));
  beforeAll(async () => {
    server = await startFakeEmbeddingServer();
  });
  afterAll(async () => {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const embConfig = () =>
    config({
      embeddings: { backend: 'ollama', url: server.url, model: 'fake-embed', retries: 0, batch_size: 16 },
    });

  it('retrieves by dense and hybrid modes, persists vectors and re-embeds only what changed', async () => {
    const kb = new KnowledgeBase({ config: embConfig(), dataDir });
    await kb.ready();
    await kb.embeddingsSettled();
    expect(kb.defaultMode).toBe('hybrid');
    const total = kb.listCollections().reduce((n, c) => n + c.documents, 0);
    expect(kb.listCollections().reduce((n, c) => n + c.vectors, 0)).toBe(total);
    const dense = await kb.retrieve({ query: 'scheduled task schtasks', mode: 'dense', top_k: 3 });
    expect(dense.mode).toBe('dense');
    expect(dense.results[0]!.metadata.technique_id).toMatch(/^T1053/);
    const hybrid = await kb.retrieve({ query: 'scheduled task schtasks', top_k: 3 });
    expect(hybrid.mode).toBe('hybrid');
    expect(hybrid.results[0]!.similarity_score).toBeLessThanOrEqual(1);
    expect(hybrid.results[0]!.metadata.technique_id).toMatch(/^T1053/);
    await kb.close();
    expect(existsSync(join(dataDir, 'knowledge', 'vectors', 'mitre_attack.fake-embed.bin'))).toBe(true);

    server.reset();
    const again = new KnowledgeBase({ config: embConfig(), dataDir });
    await again.ready();
    await again.embeddingsSettled();
    // Every document was embedded before: only the queries below reach the server.
    expect(server.requests).toHaveLength(0);
    await again.addDocuments(
      'runbooks',
      [{ id: 'extra', title: 'Extra', text: 'a new runbook section', metadata: {} }],
      't',
    );
    await again.embeddingsSettled();
    expect(server.requests.map((r) => (r.body.input as string[]).length)).toEqual([1]);
    await again.close();
  });

  it('falls back to lexical results when the query cannot be embedded', async () => {
    const kb = new KnowledgeBase({ config: embConfig() });
    await kb.ready();
    await kb.embeddingsSettled();
    server.failNext(1, 400);
    const r = await kb.retrieve({ query: 'lsass memory', top_k: 2 });
    expect(r.mode).toBe('lexical');
    expect(r.warnings[0]).toMatch(/Embedding the query failed/);
    server.failNext(1, 400);
    expect((await failure(kb.retrieve({ query: 'lsass memory', mode: 'dense' }))).code).toBe(
      'AISOC_ERR_EMBEDDINGS',
    );
    await kb.close();
  });
});
