import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KnowledgeConfig } from '../src/knowledge/config.ts';
import { KnowledgeBase } from '../src/knowledge/kb.ts';
import { sharedData } from './helpers/data.ts';
import { tempDir } from './helpers/runtime.ts';

const bundle = sharedData('attack', 'enterprise-attack.json');

describe.skipIf(!bundle)('the ATT&CK Enterprise index, built by the worker and cached', () => {
  it('builds within the default heap limit, and a restart from the cache answers the same', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const config = KnowledgeConfig.parse({ attack_path: bundle });
      const first = new KnowledgeBase({ config, dataDir: dir });
      await first.ready();
      const status = first.status();
      expect(status.index).toMatchObject({ origin: 'worker' });
      // No fallback to an unlimited heap was needed, and nothing else was skipped.
      expect(status.warnings).toEqual([]);
      expect(status.attack!.techniques).toBeGreaterThan(600);
      expect(status.mapper!.passages).toBeGreaterThan(20_000);
      const queries = [
        'lsass memory dump with procdump',
        'cloudtrail StopLogging',
        'schtasks /create persistence',
      ];
      const expected = {
        retrieved: await Promise.all(queries.map((q) => first.retrieve({ query: q, top_k: 5 }))),
        mapped: await Promise.all(queries.map((q) => first.mapTextToTechniques(q, { topK: 3 }))),
        view: first.technique('T1003.001'),
      };
      expect(
        expected.retrieved[0]!.results.some((h) => String(h.metadata.technique_id).startsWith('T1003')),
      ).toBe(true);
      expect(expected.view.procedure_count).toBeGreaterThan(10);
      await first.close();

      const second = new KnowledgeBase({ config, dataDir: dir });
      await second.ready();
      expect(second.status().index).toMatchObject({
        origin: 'cache',
        bytes: statSync(status.index!.file!).size,
      });
      expect({
        retrieved: await Promise.all(queries.map((q) => second.retrieve({ query: q, top_k: 5 }))),
        mapped: await Promise.all(queries.map((q) => second.mapTextToTechniques(q, { topK: 3 }))),
        view: second.technique('T1003.001'),
      }).toEqual(expected);
      await second.close();
    } finally {
      cleanup();
    }
  }, 240_000);
});
