/**
 * EVALUATION SCRIPT, specific to the Invictus data set (see invictus.ts):
 * label its CloudTrail records for training by the data set's documented
 * attack-run marker, as `aisoc label cloudtrail` writes labels.
 *
 *   node --import tsx scripts/eval/label-invictus.ts FILE… --out labels.jsonl [--append]
 *
 * `models/build.sh` uses it for the CloudTrail models; the product's own
 * labellers know no data set.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { labelCloudTrailFiles } from '../../src/detect/ml/label.ts';
import { INVICTUS_LABELLERS } from './invictus.ts';

const args = process.argv.slice(2);
const at = args.indexOf('--out');
const out = at >= 0 ? args[at + 1] : undefined;
const append = args.includes('--append');
const files = args.filter((a, i) => !a.startsWith('--') && i !== at + 1);
if (!out || files.length === 0) {
  console.error('usage: label-invictus.ts FILE… --out labels.jsonl [--append]');
  process.exit(2);
}
const r = await labelCloudTrailFiles(files, { declaredAttack: false, labellers: INVICTUS_LABELLERS });
const text = r.lines.length ? `${r.lines.join('\n')}\n` : '';
if (append) appendFileSync(out, text);
else writeFileSync(out, text);
for (const u of r.unreadable) console.error(`skipped ${u.file}: ${u.reason}`);
for (const [k, n] of Object.entries(r.counts).sort()) console.error(`  ${String(n).padStart(6)}  ${k}`);
console.error(`Wrote ${out}.`);
