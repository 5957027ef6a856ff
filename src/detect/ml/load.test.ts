import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/helpers/runtime.ts';
import { dropColumns, subset } from './dataset.ts';
import { CIC_COLUMNS } from './features/cicflowmeter.ts';
import { cloudtrail18 } from './features/cloudtrail18.ts';
import { flowPortable } from './features/flow-portable.ts';
import { loadCsv, loadLabelledEvents, parseRowTime } from './load.ts';

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

describe('row times, for splits by time', () => {
  it('reads CICFlowMeter timestamps to the microsecond, other ISO forms, and NaN for the rest', () => {
    expect(parseRowTime('2017-07-03 11:57:51.590705')).toBeCloseTo(
      Date.UTC(2017, 6, 3, 11, 57, 51) + 590.705,
      3,
    );
    expect(parseRowTime('2017-07-03 11:57')).toBe(Date.UTC(2017, 6, 3, 11, 57));
    expect(parseRowTime('2024-03-09T23:15:00Z')).toBe(Date.UTC(2024, 2, 9, 23, 15));
    expect(parseRowTime('not a time')).toBeNaN();
  });

  it('keeps each row time through the CSV loader, subsets and dropped columns', async () => {
    const header = ['Flow ID', 'Src Port', 'Timestamp', ...CIC_COLUMNS, 'Label'];
    const line = (t: string, label: string) =>
      header
        .map((h) => (h === 'Timestamp' ? t : h === 'Label' ? label : h === 'Flow ID' ? 'f' : '1'))
        .join(',');
    const path = join(tmp.dir, 'timed.csv');
    writeFileSync(
      path,
      `${[header.join(','), line('2017-07-05 10:00:02.5', 'BENIGN'), line('bad', 'DDoS'), line('2017-07-05 10:00:01', 'DDoS')].join('\n')}\n`,
    );
    const { dataset, report } = await loadCsv(path, flowPortable);
    expect(report.time_column).toBe('Timestamp');
    expect([...dataset.times!]).toEqual([
      Date.UTC(2017, 6, 5, 10, 0, 2, 500),
      Number.NaN,
      Date.UTC(2017, 6, 5, 10, 0, 1),
    ]);
    expect([...subset(dataset, [2, 0]).times!]).toEqual([
      Date.UTC(2017, 6, 5, 10, 0, 1),
      Date.UTC(2017, 6, 5, 10, 0, 2, 500),
    ]);
    const noPort = dropColumns(dataset, ['dst_port']);
    expect(noPort.cols).toBe(dataset.cols - 1);
    expect(noPort.featureNames).not.toContain('dst_port');
    expect(noPort.times).toBe(dataset.times);
    expect(() => dropColumns(dataset, ['nope'])).toThrow(/No feature named nope/);
  });
});
