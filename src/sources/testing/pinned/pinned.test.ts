import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { sharedData } from '../../../../test/helpers/data.ts';
import { PINNED_SOURCES, type PinnedDigests, pinnedDigests, pinnedExpectedPath } from './pinned.ts';

/**
 * Normalisation is pinned: for records sampled from the public data of each
 * source (read in ../shared/data, not copied here) and edge cases made in
 * code (cut fields, cut raw records, too-deep and refused records),
 * ingestion makes exactly what it made when the digests were written (see
 * generate.ts): every field, id, dead letter and error message, in the same
 * order — the digests are of the JSON text, so key order counts too.
 */
const available = ['cloudtrail/invictus', 'suricata', 'zeek', 'windows'].every((p) => sharedData(p));

describe.skipIf(!available)('pinned normalisation', () => {
  for (const name of PINNED_SOURCES) {
    it(`${name}: the same events, ids, dead letters and errors as when pinned`, () => {
      const expected = JSON.parse(readFileSync(pinnedExpectedPath(name), 'utf8')) as PinnedDigests;
      const actual = pinnedDigests(name);
      // The same sample of the shared data, or the comparison below would mean nothing.
      expect(actual.input, 'the sampled input (has ../shared/data changed?)').toBe(expected.input);
      expect(actual.batches.length).toBe(expected.batches.length);
      for (let b = 0; b < expected.batches.length; b++) {
        const exp = expected.batches[b]!;
        const act = actual.batches[b]!;
        expect(act.rest, `batch ${b}: dead letters, errors and counts`).toBe(exp.rest);
        expect(act.events.length, `batch ${b}: events`).toBe(exp.events.length);
        // Event by event, so a failure names the one event that differs.
        for (let i = 0; i < exp.events.length; i++)
          expect(act.events[i], `batch ${b}, event ${i}`).toBe(exp.events[i]);
      }
    });
  }
});
