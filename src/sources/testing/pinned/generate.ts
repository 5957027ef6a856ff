/**
 * Writes the pinned normalisation digests, `<source>.expected.json`: for
 * records sampled from the public data in ../shared/data (`sampledInput`
 * in pinned.ts, read where the data is, never copied here) and edge cases
 * made in code, the SHA-256 of what ingestion makes of them, per batch and
 * per event, as JSON text. `pinned.test.ts` asserts that the code of today
 * still makes exactly that, so speed work cannot change a normalised event,
 * an id, a dead letter or an error message unnoticed.
 *
 * Run: `node --import tsx src/sources/testing/pinned/generate.ts` (with the
 * code as it is: only when a change of output is intended, and say why).
 */
import { writeFileSync } from 'node:fs';
import { PINNED_SOURCES, pinnedDigests, pinnedExpectedPath } from './pinned.ts';

for (const name of PINNED_SOURCES)
  writeFileSync(pinnedExpectedPath(name), `${JSON.stringify(pinnedDigests(name), null, 1)}\n`);
