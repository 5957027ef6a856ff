/**
 * `npm run bench -- report-map`: whole-report mapping (`mapReport`) on a
 * report of `knowledge.mapper.max_report_chars` (200,000 characters) made of
 * TRAM2 sentences, over ATT&CK's three domains. It prints the wall time,
 * how long the event loop is held between two yields (the slices), and the
 * ratio to a baseline measured in the same run: ranking the same sentences
 * in one tight loop, without aggregation and without yielding.
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { readAttackDomains } from '../src/knowledge/attack/merge.ts';
import { resolveAttackBundles } from '../src/knowledge/attack/source.ts';
import { readLabelled } from '../src/knowledge/mapper/datasets.ts';
import { TechniqueMapper } from '../src/knowledge/mapper/index.ts';
import { mapReport } from '../src/knowledge/mapper/report.ts';
import { splitSentences } from '../src/knowledge/text/sentences.ts';
import { SHARED_DATA } from '../test/helpers/data.ts';
import { percentile } from './_util.ts';

const CHARS = 200_000;
const found = resolveAttackBundles({ attack_path: join(SHARED_DATA, 'attack', 'enterprise-attack.json') });
const mapper = TechniqueMapper.fit(readAttackDomains(found.bundles));
let report = '';
for (const e of readLabelled(join(SHARED_DATA, 'text2ttp', 'tram2-single-label.json'))) {
  const s = /[.!?]$/.test(e.text) ? e.text : `${e.text}.`;
  if (report.length + s.length + 1 > CHARS) break;
  report += `${s} `;
}
const sentences = splitSentences(report);

const runs: Array<Record<string, number>> = [];
for (let run = 0; run < 3; run++) {
  const t0 = performance.now();
  for (const s of sentences) mapper.rank(s, 10);
  const baseline = performance.now() - t0;
  const slices: number[] = [];
  let last = performance.now();
  const t1 = performance.now();
  const r = await mapReport(mapper, report, {
    pause: async () => {
      slices.push(performance.now() - last);
      await new Promise((resolve) => setImmediate(resolve));
      last = performance.now();
    },
  });
  const wall = performance.now() - t1;
  runs.push({
    sentences: r.sentences,
    techniques: r.techniques.length,
    wall_ms: Math.round(wall),
    baseline_ms: Math.round(baseline),
    ratio_to_baseline: Math.round((wall / baseline) * 100) / 100,
    slice_p50_ms: Math.round(percentile(slices, 50) * 10) / 10,
    slice_p99_ms: Math.round(percentile(slices, 99) * 10) / 10,
    slice_max_ms: Math.round(Math.max(...slices) * 10) / 10,
  });
}
console.log(
  JSON.stringify(
    {
      report_chars: report.length,
      domains: found.bundles.map((b) => b.domain),
      runs,
      'load average (1 min) at end': Number(loadavg()[0]!.toFixed(2)),
    },
    null,
    2,
  ),
);
