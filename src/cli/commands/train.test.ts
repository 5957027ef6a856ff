import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, REPO } from '../../../test/helpers/process.ts';
import { tempDir } from '../../../test/helpers/runtime.ts';
import { CIC_COLUMNS } from '../../detect/ml/features/cicflowmeter.ts';
import { Rng } from '../../detect/ml/rng.ts';
import { labelledLines } from '../../detect/ml/testing/cloudtrail.ts';

const run = promisify(execFile);
async function aisoc(args: string[]) {
  try {
    const r = await run(process.execPath, [BIN, ...args], { cwd: REPO, timeout: 180_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Flows of our own making in CICFlowMeter's columns: port scans are short one-packet flows to many ports. */
function flowsCsv(n: number, seed: number, bad = 0, timed = false): string {
  const rng = new Rng(seed);
  const header = ['Flow ID', 'Src Port', ...(timed ? ['Timestamp'] : []), ...CIC_COLUMNS, 'Label'];
  const lines = [header.join(',')];
  for (let i = 0; i < n; i++) {
    const scan = i % 3 === 0;
    const v: Record<string, number | string> = Object.fromEntries(header.map((h) => [h, 0]));
    v['Flow ID'] = `10.0.0.${i % 50}-10.0.1.${i % 7}-${40000 + (i % 97)}-${scan ? 1 + rng.int(1000) : 443}-6`;
    v['Src Port'] = 40000 + (i % 97);
    // Rows are written out of time order (i × 7 mod n), so the split cannot lean on file order.
    const second = (i * 7) % n;
    v.Timestamp = `2017-07-05 ${String(10 + Math.floor(second / 3600)).padStart(2, '0')}:${String(Math.floor(second / 60) % 60).padStart(2, '0')}:${String(second % 60).padStart(2, '0')}.000001`;
    v['Dst Port'] = scan ? 1 + rng.int(1000) : 443;
    v.Protocol = 6;
    v['Flow Duration'] = scan ? rng.int(100) : 100_000 + rng.int(5_000_000);
    v['Total Fwd Packet'] = scan ? 1 : 5 + rng.int(40);
    v['Total Bwd packets'] = scan ? rng.int(2) : 5 + rng.int(40);
    v['Total Length of Fwd Packet'] = scan ? 0 : 200 + rng.int(5000);
    v['SYN Flag Count'] = 1;
    v.Label = scan ? 'Portscan' : 'BENIGN';
    lines.push(header.map((h) => v[h]).join(','));
  }
  for (let i = 0; i < bad; i++) lines.push(`broken-${i},1,2`);
  return `${lines.join('\n')}\n`;
}

describe('aisoc train, eval model and label', { timeout: 180_000 }, () => {
  const { dir, cleanup } = tempDir('aisoc-train-cli-');
  afterAll(cleanup);

  it('trains on a CSV with bad rows (skipped and counted), holds out the latest rows of each class, reports macro-F1 first, and eval model agrees', async () => {
    const data = join(dir, 'flows.csv');
    writeFileSync(data, flowsCsv(900, 3, 4, true));
    const out = join(dir, 'flows.aisoc-model');
    const t = await aisoc([
      'train',
      '--features',
      'flow-portable',
      '--data',
      data,
      '--model',
      'gbdt',
      '--out',
      out,
      '--json',
    ]);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stderr).toMatch(/skipped 4 \(wrong number of fields\)/);
    expect(t.stderr).toMatch(/Split by time within each class \(Timestamp; the latest rows held out\)/);
    expect(t.stderr.indexOf('macro-F1')).toBeLessThan(t.stderr.indexOf('accuracy'));
    const report = JSON.parse(t.stdout);
    expect(report.test.macro_f1).toBeGreaterThan(0.95);
    // 300 port scans and 600 benign flows: the latest 30 % of each, 90 + 180.
    expect(report.split).toEqual({ method: 'time-within-class', test_fraction: 0.3 });
    expect(report.test_rows).toBe(270);
    expect(report.test.per_class.Portscan.support).toBe(90);

    // Given its own training file, eval scores only the held-out groups, and gets the same numbers.
    const e = await aisoc(['eval', 'model', '--model', out, '--data', data, '--json']);
    expect(e.code, e.stderr).toBe(0);
    const ev = JSON.parse(e.stdout);
    expect(Object.keys(ev)).toEqual(
      expect.arrayContaining([
        'accuracy',
        'macro_f1',
        'per_class',
        'confusion',
        'false_positive_rate',
        'rows',
      ]),
    );
    expect(ev.rows).toBe(report.test_rows);
    expect(ev.macro_f1).toBeCloseTo(report.test.macro_f1, 12);
    expect(e.stderr).toMatch(/held out/);

    // New data from the same world, with a label the model never saw.
    const other = join(dir, 'other.csv');
    writeFileSync(other, flowsCsv(300, 9).replace(/Portscan$/m, 'Heartbleed'));
    const o = await aisoc(['eval', 'model', '--model', out, '--data', other, '--json']);
    expect(o.code, o.stderr).toBe(0);
    expect(o.stderr).toMatch(/labels the model never learned \(Heartbleed\)/);
    expect(JSON.parse(o.stdout).unknown_labels).toEqual(['Heartbleed']);
  });

  it('gives the same model file for the same seed across runs and --threads settings', async () => {
    const data = join(dir, 'flows2.csv');
    writeFileSync(data, flowsCsv(600, 4));
    const a = join(dir, 'a.aisoc-model');
    const b = join(dir, 'b.aisoc-model');
    expect(
      (
        await aisoc([
          'train',
          '--features',
          'flow-portable',
          '--data',
          data,
          '--model',
          'rf',
          '--threads',
          '1',
          '--out',
          a,
        ])
      ).code,
    ).toBe(0);
    expect(
      (
        await aisoc([
          'train',
          '--features',
          'flow-portable',
          '--data',
          data,
          '--model',
          'rf',
          '--threads',
          '2',
          '--out',
          b,
        ])
      ).code,
    ).toBe(0);
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
  });

  it('refuses missing columns, unknown feature sets and corrupt models with a clear message and exit 1', async () => {
    const short = join(dir, 'short.csv');
    writeFileSync(short, 'Flow ID,Label\nx,BENIGN\n');
    const m = await aisoc([
      'train',
      '--features',
      'cicflowmeter',
      '--data',
      short,
      '--out',
      join(dir, 'x.aisoc-model'),
    ]);
    expect(m.code).toBe(1);
    expect(m.stderr).toMatch(/AISOC_ERR_VALIDATION: .*lacks the columns "Dst Port"/);
    const u = await aisoc([
      'train',
      '--features',
      'nope',
      '--data',
      short,
      '--out',
      join(dir, 'x.aisoc-model'),
    ]);
    expect(u.stderr).toMatch(/No feature set named "nope"/);
    const corrupt = join(dir, 'corrupt.aisoc-model');
    writeFileSync(corrupt, 'AISOCMDL garbage');
    const c = await aisoc(['eval', 'model', '--model', corrupt, '--data', short]);
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(/AISOC_ERR_MODEL/);
    expect(c.stderr).not.toMatch(/at .*\.ts:\d+/);
  });

  it('splits data without times by group, saying so', async () => {
    const data = join(dir, 'untimed.csv');
    writeFileSync(data, flowsCsv(300, 5));
    const out = join(dir, 'untimed.aisoc-model');
    const t = await aisoc(['train', '--features', 'flow-portable', '--data', data, '--out', out, '--json']);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stderr).toMatch(/Split by groups of Flow ID/);
    expect(JSON.parse(t.stdout).split).toEqual({ method: 'grouped-hash', test_fraction: 0.2 });
    const forced = await aisoc([
      'train',
      '--features',
      'flow-portable',
      '--data',
      data,
      '--out',
      out,
      '--split',
      'time',
    ]);
    expect(forced.code).toBe(1);
    expect(forced.stderr).toMatch(/AISOC_ERR_VALIDATION: .*needs a time for every row/);
    const bad = await aisoc([
      'train',
      '--features',
      'flow-portable',
      '--data',
      data,
      '--out',
      out,
      '--split',
      'random',
    ]);
    expect(bad.stderr).toMatch(/--split must be time or group/);
  });

  it('labels CloudTrail records, recording the labeller of each', async () => {
    const records = labelledLines(8, 1)
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).record);
    const file = join(dir, 'trail.json');
    writeFileSync(file, JSON.stringify({ Records: records }));
    const out = join(dir, 'labels.jsonl');
    const r = await aisoc(['label', 'cloudtrail', file, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const lines = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(8);
    // Records 0 and 4 carry the Stratus user agent in our world: the product's labellers know no
    // data set, so only a declared attack file (--attack) makes records attacks.
    expect(lines.map((l) => l.labeller)).toEqual(Array(8).fill('heuristic:default-benign'));
    const declared = await aisoc(['label', 'cloudtrail', file, '--attack', '--out', out]);
    expect(declared.code, declared.stderr).toBe(0);
    expect(
      readFileSync(out, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).label),
    ).toEqual(Array(8).fill('attack'));
    expect(lines[0].source_file).toBe('trail.json');
  });
});
