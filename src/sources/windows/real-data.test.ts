import { readFileSync } from 'node:fs';
import { constants, gunzipSync } from 'node:zlib';
import { unzipSync } from 'fflate';
import { glob } from 'tinyglobby';
import { describe, expect, it } from 'vitest';
import { sharedData } from '../../../test/helpers/data.ts';
import { NormalisedEvent } from '../../schema/event.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { readInputDocs } from '../archive.ts';
import { bodyText, frameBody } from '../framing.ts';
import { normaliseRecords } from '../normalise.ts';
import { windows } from './index.ts';

/**
 * Every OTRF atomic dataset (zipped JSON lines of Sysmon, Security,
 * PowerShell, … events) through the windows source as ingestion runs it:
 * each event must come out, none dead-lettered. The expected count is
 * computed here independently, from the zip entries. Entries that are
 * packet captures (`.cap`, `.pcapng`, in the network datasets) hold no
 * event-log records and are not ingested; their zips expect 0 events.
 */

const otrf = sharedData('windows', 'otrf');
const regression = sharedData('sigma', 'regression');
const source = windows.create({}, { logger: silentLogger() });
const INGESTED = new Date().toISOString();

function isEventEntry(name: string): boolean {
  return name.endsWith('.json') && !/(^|\/)(__MACOSX|\.)/.test(name);
}

/** Non-empty lines of the JSON entries of a zip, counted without the product's readers. */
function countJsonLines(path: string): number {
  const entries = unzipSync(new Uint8Array(readFileSync(path)), { filter: (f) => isEventEntry(f.name) });
  let n = 0;
  for (const data of Object.values(entries)) {
    for (const line of Buffer.from(data).toString('utf8').split('\n')) if (line.trim() !== '') n++;
  }
  return n;
}

/** Non-empty JSON lines of a tar.gz, counted by reading the tar headers here, not with the product's reader. */
function countTarJsonLines(path: string): number {
  // Some of these archives end short or padded: take what inflates, as far as it goes.
  const tar = gunzipSync(readFileSync(path), { finishFlush: constants.Z_SYNC_FLUSH });
  let n = 0;
  for (let off = 0; off + 512 <= tar.length; ) {
    const name = tar.toString('latin1', off, off + 100).replace(/\0.*$/s, '');
    if (name === '') break;
    const size = Number.parseInt(
      tar
        .toString('latin1', off + 124, off + 136)
        .replace(/\0.*$/s, '')
        .trim(),
      8,
    );
    const body = tar.subarray(off + 512, off + 512 + size);
    if (isEventEntry(name))
      for (const line of body.toString('utf8').split('\n')) if (line.trim().startsWith('{')) n++;
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return n;
}

/**
 * Events an archive holds, counted without the product's readers: NXLog
 * exports come zipped, winlogbeat 6 exports (the 2019 datasets) as tar.gz.
 */
const countEvents = (path: string): number =>
  path.endsWith('.zip') ? countJsonLines(path) : countTarJsonLines(path);

describe.skipIf(!otrf)('windows source on the OTRF atomic datasets (zip and tar.gz)', async () => {
  const archives = otrf ? await glob('**/*.{zip,tar.gz}', { cwd: otrf, absolute: true }) : [];

  it('finds the datasets', () => {
    expect(archives.filter((a) => a.endsWith('.zip')).length).toBeGreaterThan(100);
    expect(archives.filter((a) => a.endsWith('.tar.gz')).length).toBeGreaterThan(0);
  });

  for (const archive of archives.sort()) {
    it(`${archive.slice(otrf!.length + 1)}: every event normalised, none dead-lettered`, {
      timeout: 180_000,
    }, () => {
      const expected = countEvents(archive);
      let events = 0;
      const deadLetters: string[] = [];
      for (const doc of readInputDocs(archive)) {
        const entry = doc.name.slice(doc.name.indexOf('!') + 1);
        if (!isEventEntry(entry)) continue;
        const r = normaliseRecords(source, frameBody(doc.text, source.framing), INGESTED);
        events += r.events.length;
        for (const d of r.deadLetters.slice(0, 5)) deadLetters.push(`${entry}: ${d.field}: ${d.reason}`);
        // The schema check is sampled: it costs more than normalising.
        for (let i = 0; i < r.events.length; i += 97) {
          const parsed = NormalisedEvent.safeParse(r.events[i]);
          if (!parsed.success) throw new Error(`${entry}: ${parsed.error.message}`);
        }
        for (const e of r.events) {
          if (e.unmapped?.EventID === undefined || !e.metadata.event_code || !e.metadata.log_name)
            throw new Error(`${entry}: no EventID or channel`);
        }
      }
      expect(deadLetters).toEqual([]);
      expect(events).toBe(expected);
    });
  }
});

describe.skipIf(!regression)('windows source on the Sigma regression events', async () => {
  const files = regression ? await glob('**/*.json', { cwd: regression, absolute: true }) : [];

  it('normalises every event, keeping EventData under its own names', () => {
    expect(files.length).toBeGreaterThan(0);
    const problems: string[] = [];
    let n = 0;
    for (const file of files) {
      const text = bodyText(readFileSync(file));
      const r = normaliseRecords(source, frameBody(text, source.framing), INGESTED);
      for (const d of r.deadLetters) problems.push(`${file}: ${d.reason}`);
      const originals = frameBody(text, source.framing).map(
        (f) => f.value as { Event: { EventData?: object } },
      );
      r.events.forEach((e, i) => {
        n++;
        const data = originals[i]?.Event.EventData ?? {};
        for (const [k, v] of Object.entries(data)) {
          if (k !== '#attributes' && e.unmapped?.[k] !== v) problems.push(`${file}: ${k} not kept as is`);
        }
        if (!NormalisedEvent.safeParse(e).success) problems.push(`${file}: fails the schema`);
      });
    }
    expect(problems).toEqual([]);
    expect(n).toBeGreaterThan(files.length - 1);
  });
});
