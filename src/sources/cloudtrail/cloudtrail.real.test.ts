import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sharedData } from '../../../test/helpers/data.ts';
import { NormalisedEvent } from '../../schema/event.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { readInputDocs } from '../archive.ts';
import { normaliseText } from '../testing/conformance.ts';
import { cloudtrail } from './index.ts';

/**
 * The public CloudTrail samples (../shared/data/cloudtrail): Invictus'
 * `{"Records": […]}` file (1,910), the 35 Stratus Red Team detonation logs
 * (bare arrays, 310 in all) and OTRF's EC2-proxy S3 exfiltration (103 NDJSON
 * lines inside a zip, exported through Logstash: `@timestamp` instead of
 * `eventTime`). Counts come from the data set's README.
 */
const dir = sharedData('cloudtrail');

describe.skipIf(!dir)('cloudtrail on the public samples', () => {
  const source = cloudtrail.create({}, { logger: silentLogger() });

  function check(file: string, expected: number) {
    const docs = readInputDocs(file);
    let events = 0;
    for (const doc of docs) {
      const r = normaliseText(source, doc.text);
      expect(r.deadLetters, doc.name).toEqual([]);
      for (const e of r.events) {
        expect(NormalisedEvent.safeParse(e).success).toBe(true);
        expect(e.source_event_id).toMatch(/^[0-9a-f-]{36}$/);
        expect(e.cloud?.provider).toBe('aws');
        expect(e.cloud?.operation).toBeTruthy();
      }
      // The source's own eventID makes every event id stable and distinct.
      expect(new Set(r.events.map((e) => e.id)).size).toBe(r.events.length);
      events += r.events.length;
    }
    expect(events).toBe(expected);
  }

  it('normalises all 1,910 Invictus records', () => {
    check(join(dir!, 'invictus/records-dev.json'), 1910);
  });

  it('normalises all 310 records of the 35 Stratus detonation logs', () => {
    const files = readdirSync(join(dir!, 'stratus-detonation')).filter((f) => f.startsWith('aws.'));
    expect(files).toHaveLength(35);
    let total = 0;
    for (const f of files) {
      const r = normaliseText(source, readInputDocs(join(dir!, 'stratus-detonation', f))[0]!.text);
      expect(r.deadLetters, f).toEqual([]);
      expect(r.events.length, f).toBeGreaterThan(0);
      total += r.events.length;
    }
    expect(total).toBe(310);
  });

  it('normalises the 103 Logstash-exported OTRF records, reading @timestamp for eventTime', () => {
    check(join(dir!, 'otrf/ec2_proxy_s3_exfiltration.zip'), 103);
  });
});
