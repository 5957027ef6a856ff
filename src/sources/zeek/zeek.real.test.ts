import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { sharedData } from '../../../test/helpers/data.ts';
import { NormalisedEvent } from '../../schema/event.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { frameBody } from '../framing.ts';
import { normaliseRecords } from '../normalise.ts';
import { ZeekConfig, zeek } from './index.ts';
import { inferZeekLog } from './infer.ts';

/**
 * The public Zeek 6.2 JSON logs (../shared/data/zeek/*.json.gz, WRCCDC 2018):
 * one log type per file, one record per line.
 */
const dir = sharedData('zeek');
/** Skipped by default (see ZeekConfig.skip_logs): engine counters and the sensor's script list. */
const SKIPPED_LOGS = new Set(['stats', 'loaded_scripts']);
/** The one record no field identifies: an NTLM record with nothing but its connection id. */
const UNINFERABLE = 1;

describe.skipIf(!dir)('zeek on the public JSON logs', () => {
  const files = dir ? readdirSync(dir).filter((f) => f.endsWith('.json.gz')) : [];
  const source = zeek.create(ZeekConfig.parse({}), { logger: silentLogger() });
  const texts = new Map(files.map((f) => [f, gunzipSync(readFileSync(join(dir!, f))).toString('utf8')]));

  /** Normalise as ingestion does, a batch at a time, so a 50,000-record log does not sit in memory at once. */
  const normaliseInBatches = (text: string) => {
    const framed = frameBody(text, source.framing);
    const out = { events: [] as NormalisedEvent[], deadLetters: [] as unknown[], skipped: 0 };
    for (let i = 0; i < framed.length; i += 2000) {
      const r = normaliseRecords(source, framed.slice(i, i + 2000), '2030-01-01T00:00:00.000Z');
      out.deadLetters.push(...r.deadLetters);
      out.skipped += r.skipped;
      // Keep what the assertions read; the raw records are dropped with the batch.
      for (const e of r.events) out.events.push({ ...e, raw: undefined });
    }
    return out;
  };

  it('has the logs the data set documents', () => {
    expect(files.length).toBe(32);
    for (const log of ['dns', 'ssl', 'notice', 'weird', 'ssh', 'rdp', 'kerberos', 'ntlm', 'x509'])
      expect(files).toContain(`${log}.json.gz`);
  });

  for (const file of files) {
    it(`normalises every record of ${file}`, () => {
      const text = texts.get(file)!;
      // Counted independently of the parser: non-empty lines of the gunzipped text.
      const lines = text.split('\n').filter((l) => l.trim() !== '').length;
      const r = normaliseInBatches(text);
      expect(r.deadLetters).toEqual([]);
      const log = file.replace('.json.gz', '');
      if (SKIPPED_LOGS.has(log)) {
        expect(r.skipped).toBe(lines);
        expect(r.events).toHaveLength(0);
        return;
      }
      expect(r.skipped).toBe(0);
      expect(r.events).toHaveLength(lines);
      const time = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
      expect(r.events.filter((e) => e.metadata.log_name !== log || !time.test(e.time))).toEqual([]);
      for (const e of r.events.slice(0, 200))
        expect(NormalisedEvent.safeParse({ ...e, raw: {} }).success).toBe(true);
    });
  }

  it('maps the notices to findings and the users of authentication logs', () => {
    const notices = normaliseInBatches(texts.get('notice.json.gz')!).events;
    expect(notices.every((e) => e.finding?.uid === 'SSL::Invalid_Server_Cert')).toBe(true);
    expect(notices.every((e) => e.finding?.severity === 'low')).toBe(true);
    const ntlm = normaliseInBatches(texts.get('ntlm.json.gz')!).events;
    expect(ntlm.filter((e) => e.actor?.user?.name === 'Administrator').length).toBeGreaterThan(0);
  });

  it('infers the log type of every record from its fields alone', () => {
    let uninferable = 0;
    const wrong: string[] = [];
    for (const [file, text] of texts) {
      const log = file.replace('.json.gz', '');
      for (const line of text.split('\n')) {
        if (line.trim() === '') continue;
        const record = JSON.parse(line) as Record<string, unknown>;
        delete record._path;
        delete record._write_ts;
        const inferred = inferZeekLog(record);
        if (inferred === undefined) uninferable++;
        else if (inferred !== log) wrong.push(`${file} → ${inferred}: ${line.slice(0, 120)}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(uninferable).toBe(UNINFERABLE);
  });
});
