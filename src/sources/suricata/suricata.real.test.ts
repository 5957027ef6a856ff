import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sharedData } from '../../../test/helpers/data.ts';
import { NormalisedEvent } from '../../schema/event.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { normaliseText } from '../testing/conformance.ts';
import { SuricataConfig, suricata } from './index.ts';

/**
 * The public Suricata samples (../shared/data/suricata/<set>/alerts-only.json):
 * one JSON array of real EVE alerts per set, 548 in all.
 */
const dir = sharedData('suricata');
const EXPECTED: Record<string, number> = {
  'first-org-conf-2015': 136,
  'honeypot-2018': 44,
  'wrccdc-2017': 161,
  'wrccdc-2018': 207,
};

describe.skipIf(!dir)('suricata on the public EVE samples', () => {
  const source = suricata.create(SuricataConfig.parse({}), { logger: silentLogger() });
  let total = 0;

  for (const [set, count] of Object.entries(EXPECTED)) {
    it(`normalises every alert of ${set} (${count}) without a dead letter`, () => {
      const text = readFileSync(join(dir!, set, 'alerts-only.json'), 'utf8');
      // Counted independently of the parser: the file is one JSON array.
      expect((JSON.parse(text) as unknown[]).length).toBe(count);
      const r = normaliseText(source, text);
      expect(r.deadLetters).toEqual([]);
      expect(r.skipped).toBe(0);
      expect(r.events).toHaveLength(count);
      total += r.events.length;
      for (const e of r.events) {
        expect(NormalisedEvent.safeParse(e).success).toBe(true);
        expect(e.class_uid).toBe(2004);
        expect(e.finding?.product).toBe('Suricata');
        expect(['high', 'medium', 'low']).toContain(e.finding?.severity);
        expect(e.src_endpoint?.ip).toBeTruthy();
        expect(e.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
      }
      // Several alerts can fire on one packet; each keeps its own id.
      expect(new Set(r.events.map((e) => e.id)).size).toBe(count);
    });
  }

  it('covers the 548 alerts the data set documents', () => {
    expect(total).toBe(548);
  });
});
