import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/helpers/runtime.ts';
import { CIC_COLUMNS } from './features/cicflowmeter.ts';
import { cloudtrail18 } from './features/cloudtrail18.ts';
import { flowPortable } from './features/flow-portable.ts';
import { loadCsv, loadLabelledEvents } from './load.ts';

const tmp = tempDir('aisoc-load-');
afterAll(tmp.cleanup);

const HEADER = ['Flow ID', 'Src Port', ...CIC_COLUMNS, 'Label'];
function row(flow: string, label: string, over: Record<string, string> = {}): string {
  const v = HEADER.map((h) => (h === 'Flow ID' ? flow : h === 'Label' ? label : (over[h] ?? '1')));
  return v.map((x) => (x.includes(',') ? `"${x}"` : x)).join(',');
}

describe('loading a flow CSV', () => {
  it('skips and counts bad rows by reason, keeps the good ones, groups by Flow ID', async () => {
    const path = join(tmp.dir, 'flows.csv');
    const lines = [
      HEADER.join(','),
      row('a', 'BENIGN'),
      row('a', 'DDoS'),
      row('b', 'BENIGN', { 'Flow Duration': 'oops' }),
      row('c', ''),
      '1,2,3',
      row('d', 'DDoS', { 'Total Fwd Packet': '-4' }),
      row('e', 'Portscan', { 'Flow Bytes/s': 'Infinity' }),
    ];
    writeFileSync(path, `${lines.join('\n')}\n`);
    const { dataset, report } = await loadCsv(path, flowPortable);
    expect(report.rows_read).toBe(7);
    expect(report.rows_used).toBe(3);
    expect(report.skipped).toEqual({
      'bad value in Flow Duration': 1,
      'empty label': 1,
      'wrong number of fields': 1,
      'bad value in Total Fwd Packet': 1,
    });
    expect(report.examples[0]).toMatch(/line 4: column "Flow Duration"/);
    expect(report.group_column).toBe('Flow ID');
    expect(dataset.groups).toEqual(['a', 'a', 'e']);
    expect(dataset.labels).toEqual(['BENIGN', 'DDoS', 'Portscan']);
    expect(report.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  it('fails at once, naming the columns a feature set needs and the file lacks', async () => {
    const path = join(tmp.dir, 'short.csv');
    writeFileSync(path, 'Flow ID,Dst Port,Label\nx,80,BENIGN\n');
    await expect(loadCsv(path, flowPortable)).rejects.toThrow(
      /lacks the columns "Flow Duration", "Total Fwd Packet"/,
    );
    await expect(loadCsv(path, flowPortable, { labelColumn: 'Class' })).rejects.toThrow(/"Class"/);
    await expect(loadCsv(join(tmp.dir, 'missing.csv'), flowPortable)).rejects.toThrow(/does not exist/);
  });
});

describe('loading labelled CloudTrail lines', () => {
  it('orders records by event time and skips lines it cannot use', async () => {
    const rec = (t: string, name: string) => ({
      eventTime: t,
      eventSource: 'iam.amazonaws.com',
      eventName: name,
      userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::1:user/a' },
      sourceIPAddress: '10.0.0.1',
    });
    const path = join(tmp.dir, 'labels.jsonl');
    writeFileSync(
      path,
      [
        JSON.stringify({ label: 'attack', labeller: 't', record: rec('2024-01-01T10:05:00Z', 'CreateUser') }),
        '{not json',
        JSON.stringify({ labeller: 't', record: rec('2024-01-01T10:00:00Z', 'ListUsers') }),
        JSON.stringify({ label: 'benign', labeller: 't', record: { hello: 1 } }),
        JSON.stringify({ label: 'benign', labeller: 't', record: rec('2024-01-01T10:00:00Z', 'ListUsers') }),
      ].join('\n'),
    );
    const { dataset, report, events } = await loadLabelledEvents(path, cloudtrail18);
    expect(report.rows_used).toBe(2);
    expect(report.skipped).toEqual({ 'invalid JSON': 1, 'missing label': 1, 'not a CloudTrail record': 1 });
    expect(events!.map((e) => e.cloud?.operation)).toEqual(['ListUsers', 'CreateUser']);
    expect(dataset.labels).toEqual(['attack', 'benign']);
    expect([...dataset.y]).toEqual([1, 0]);
  });
});
