import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from './helpers/process.ts';
import { testServer } from './helpers/runtime.ts';

const FIXTURE = join(REPO, 'src/knowledge/attack/fixtures/mini-attack-stix21.json');

async function until<T>(probe: () => T | undefined | false, what: string, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the knowledge-base build never holds the event loop', () => {
  it('answers /health (and 503 + Retry-After for retrieval) while the index build is in progress', async () => {
    // The worker parses and indexes ATT&CK, then waits on this flag before handing the index over:
    // whatever the main thread answers meanwhile, it answers while a build is under way.
    const hold = new Int32Array(new SharedArrayBuffer(4));
    hold[0] = 1;
    const t = await testServer(
      { knowledge: { attack_path: FIXTURE } },
      { warmKnowledge: true, knowledgeBuildHold: hold },
    );
    try {
      const kb = t.runtime.knowledge;
      await until(() => kb.status().index?.phase === 'held', 'the build to reach its hold');
      const key = await t.key(['read']);
      for (let i = 0; i < 5; i++) {
        const health = await t.app.inject({ method: 'GET', url: '/health' });
        expect(health.statusCode).toBe(200);
      }
      const r = await t.app.inject({
        method: 'POST',
        url: '/retrieve',
        headers: { authorization: `Bearer ${key}` },
        payload: { query: 'lsass' },
      });
      expect(r.statusCode).toBe(503);
      expect(r.json().code).toBe('AISOC_ERR_KNOWLEDGE_LOADING');
      expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(kb.state).toBe('loading');

      Atomics.store(hold, 0, 0);
      Atomics.notify(hold, 0);
      await kb.ready();
      expect(kb.status().index!.origin).toBe('worker');
      const ok = await t.app.inject({
        method: 'POST',
        url: '/retrieve',
        headers: { authorization: `Bearer ${key}` },
        payload: { query: 'dump credentials from lsass memory', top_k: 1 },
      });
      expect(ok.statusCode).toBe(200);
      expect(ok.json().results[0].metadata.technique_id).toBe('T1003.001');
    } finally {
      Atomics.store(hold, 0, 0);
      Atomics.notify(hold, 0);
      await t.close();
    }
  }, 120_000);
});
