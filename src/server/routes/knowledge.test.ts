import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer, testServer } from '../../../test/helpers/runtime.ts';

const FIXTURE = join(import.meta.dirname, '../../knowledge/attack/fixtures/mini-attack-stix20.json');

describe('knowledge API', () => {
  let t: TestServer;
  let read: string;
  let admin: string;
  const call = (method: 'GET' | 'POST' | 'DELETE', url: string, key: string | undefined, payload?: unknown) =>
    t.app.inject({
      method,
      url,
      headers: key ? { authorization: `Bearer ${key}` } : {},
      ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
    });

  beforeAll(async () => {
    t = await testServer({ knowledge: { attack_path: FIXTURE } });
    read = await t.key(['read']);
    admin = await t.key(['admin']);
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers 503 with Retry-After while the knowledge base loads', async () => {
    const res = await call('POST', '/retrieve', read, { query: 'lsass' });
    expect(res.statusCode).toBe(503);
    expect(res.json().code).toBe('AISOC_ERR_KNOWLEDGE_LOADING');
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    await t.runtime.knowledge.ready();
  });

  it('POST /retrieve keeps the seed contract: {query, results[{document, metadata, similarity_score}], total_results}', async () => {
    const res = await call('POST', '/retrieve', read, { query: 'credential dumping from LSASS memory' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.query).toBe('credential dumping from LSASS memory');
    expect(body.results).toHaveLength(3);
    expect(body.total_results).toBe(3);
    expect(body.results[0]).toMatchObject({ metadata: { technique_id: 'T1003.001' } });
    expect(typeof body.results[0].document).toBe('string');
    expect(body.results[0].similarity_score).toBeGreaterThan(0);
    expect(body.results[0].similarity_score).toBeLessThanOrEqual(1);
  });

  it('validates the request, naming the field', async () => {
    const bad = [
      [{ query: 'x', top_k: 11 }, 'body.top_k'],
      [{ query: '' }, 'body.query'],
      [{ query: 'x', collection: 'Bad Name' }, 'body.collection'],
      [{ query: 'x', mode: 'magic' }, 'body.mode'],
    ] as const;
    for (const [payload, field] of bad) {
      const res = await call('POST', '/retrieve', read, payload);
      expect(res.statusCode).toBe(400);
      expect(res.json().field).toBe(field);
    }
    const unknown = await call('POST', '/retrieve', read, { query: 'x', collection: 'nothing_here' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().field).toBe('collection');
    const dense = await call('POST', '/retrieve', read, { query: 'x', mode: 'dense' });
    expect(dense.statusCode).toBe(400);
    expect(dense.json().field).toBe('mode');
  });

  it('needs a key', async () => {
    expect((await call('POST', '/retrieve', undefined, { query: 'x' })).statusCode).toBe(401);
    expect((await call('GET', '/collections', undefined)).statusCode).toBe(401);
  });

  it('GET /collections lists the collections and their sizes', async () => {
    const res = await call('GET', '/collections', read);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.state).toBe('ready');
    expect(body.default_mode).toBe('lexical');
    const names = body.collections.map((c: { name: string }) => c.name);
    expect(names).toEqual(expect.arrayContaining(['mitre_attack', 'runbooks', 'incidents', 'cve']));
    expect(body.collections.find((c: { name: string }) => c.name === 'runbooks').documents).toBeGreaterThan(
      20,
    );
  });

  it('POST /knowledge/documents needs admin, audits, and makes the documents retrievable', async () => {
    const payload = {
      collection: 'runbooks',
      documents: [
        { id: 'house-rules', title: 'House rules', text: 'Page the duty officer for any zanzibar alert.' },
      ],
    };
    expect((await call('POST', '/knowledge/documents', read, payload)).statusCode).toBe(403);
    const res = await call('POST', '/knowledge/documents', admin, payload);
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({ collection: 'runbooks', added: 1, ids: ['house-rules'] });
    const found = await call('POST', '/retrieve', read, {
      query: 'zanzibar',
      collection: 'runbooks',
      top_k: 1,
    });
    expect(found.json().results[0].document).toContain('duty officer');
    const audit = await t.runtime.store.audit.list({ action: 'knowledge.add' });
    expect(audit.at(-1)).toMatchObject({ target_id: 'runbooks', details: { ids: ['house-rules'] } });

    const dup = await call('POST', '/knowledge/documents', admin, {
      collection: 'runbooks',
      documents: [
        { id: 'a', text: 'x' },
        { id: 'a', text: 'y' },
      ],
    });
    expect(dup.statusCode).toBe(400);
    expect(dup.json().field).toBe('body.documents.1.id');

    expect((await call('DELETE', '/knowledge/documents/runbooks/house-rules', read)).statusCode).toBe(403);
    expect((await call('DELETE', '/knowledge/documents/runbooks/house-rules', admin)).statusCode).toBe(200);
    expect((await call('DELETE', '/knowledge/documents/runbooks/house-rules', admin)).statusCode).toBe(404);
    const gone = await call('POST', '/retrieve', read, {
      query: 'zanzibar',
      collection: 'runbooks',
      top_k: 1,
    });
    expect(gone.json().results).toEqual([]);
  });

  it('GET /attack/techniques/:id explains a technique for the UI', async () => {
    const res = await call('GET', '/attack/techniques/T1003.001', read);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({
      id: 'T1003.001',
      full_name: 'OS Credential Dumping: LSASS Memory',
      parent: { id: 'T1003', name: 'OS Credential Dumping' },
      tactics: [{ id: 'TA0006', shortname: 'credential-access' }],
      mitigations: [{ id: 'M1026' }],
      procedure_count: 2,
      attack_version: 'ATT&CK (spec 3.3.0, 2025-10-24)',
    });
    expect(body.description).toContain('(Citation:');
    expect(body.text).not.toContain('(Citation:');
    const revoked = await call('GET', '/attack/techniques/T1574.002', read);
    expect(revoked.json()).toMatchObject({ id: 'T1574.001', replaces: 'T1574.002' });
    expect((await call('GET', '/attack/techniques/T9999', read)).statusCode).toBe(404);
    const bad = await call('GET', '/attack/techniques/lsass', read);
    expect(bad.statusCode).toBe(400);
    expect(bad.json().field).toBe('params.id');
  });

  it('POST /attack/map tags free text with techniques and evidence', async () => {
    const res = await call('POST', '/attack/map', read, {
      text: 'schtasks /create /tn Updater /tr loader.exe',
      top_k: 3,
    });
    expect(res.statusCode).toBe(200);
    const [first] = res.json().techniques;
    expect(first.technique_id).toBe('T1053.005');
    expect(first.evidence[0]).toMatchObject({ kind: expect.any(String), source_id: expect.any(String) });
    const empty = await call('POST', '/attack/map', read, { text: '   ' });
    expect(empty.statusCode).toBe(400);
  });
});
