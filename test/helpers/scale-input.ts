import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { REPO } from './process.ts';

/** One request body of the scale-out input: where it goes and what it carries. */
export interface Body {
  source: 'cloudtrail' | 'syslog';
  text: string;
  /** Records in the body (events expected from it). */
  records: number;
}

interface Samples {
  base?: Record<string, unknown>;
  match?: Array<{ record: Record<string, unknown> }>;
}

const T0 = Date.UTC(2026, 10, 20, 0, 0, 0);

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)
        ? merge(b as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

/**
 * CloudTrail records that our own pack alerts on (the `match` samples of
 * every CloudTrail rule, each rule's records by an identity of its own, six
 * hours apart, so each forms an incident of its own), amid benign reads by
 * fifty users. Every record has its own `eventID`, so a resent body stores
 * nothing twice.
 */
export function cloudTrailRecords(benign: number): Array<Record<string, unknown>> {
  const dir = join(REPO, 'content/rules/cloudtrail');
  const attacks: Array<Record<string, unknown>> = [];
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.samples.yml'))
    .sort();
  files.forEach((file, k) => {
    const doc = parse(readFileSync(join(dir, file), 'utf8')) as Samples;
    (doc.match ?? []).forEach((m, j) => {
      // Correlation samples hold whole sequences, not one record: they are not used here.
      if (!m.record) return;
      const r = merge(doc.base ?? {}, m.record);
      r.eventID = `attack-${k}-${j}`;
      r.eventTime = new Date(T0 + k * 6 * 3_600_000 + j * 1000).toISOString();
      r.sourceIPAddress = `203.0.113.${(k % 250) + 1}`;
      attacks.push(r);
    });
  });
  const reads = Array.from({ length: benign }, (_, i) => ({
    eventVersion: '1.08',
    eventID: `benign-${i}`,
    eventTime: new Date(T0 + i * 7_000).toISOString(),
    eventSource: 's3.amazonaws.com',
    eventName: 'GetObject',
    eventType: 'AwsApiCall',
    awsRegion: 'eu-west-1',
    sourceIPAddress: `10.0.${i % 50}.${(i % 7) + 10}`,
    userAgent: 'aws-sdk-java/2.20.0',
    recipientAccountId: '111122223333',
    requestParameters: { bucketName: 'reports', key: `daily/${i}.csv` },
    userIdentity: {
      type: 'IAMUser',
      accountId: '111122223333',
      userName: `reader-${i % 50}`,
      accessKeyId: `AKIAREADER${String(i % 50).padStart(10, '0')}`,
    },
  }));
  // Interleave: attacks spread through the benign records.
  const out: Array<Record<string, unknown>> = [];
  const step = Math.max(1, Math.floor(reads.length / Math.max(1, attacks.length)));
  let a = 0;
  reads.forEach((r, i) => {
    out.push(r);
    if (i % step === 0 && a < attacks.length) out.push(attacks[a++]!);
  });
  while (a < attacks.length) out.push(attacks[a++]!);
  return out;
}

/**
 * sshd lines of two password-guessing runs: 12 failures from one address
 * within two minutes (our brute-force correlation needs 10 within 5) and 4
 * from another (below it), in `parts` bodies with the lines dealt round
 * robin, so the failures of one run reach different workers.
 */
export function bruteForceBodies(parts: number): Body[] {
  const lines: string[] = [];
  for (let i = 0; i < 12; i++)
    lines.push(
      `Nov 20 03:10:${String(i * 5).padStart(2, '0')} bastion-01 sshd[${4100 + i}]: Failed password for invalid user admin${i} from 203.0.113.250 port ${40100 + i} ssh2`,
    );
  for (let i = 0; i < 4; i++)
    lines.push(
      `Nov 20 03:11:${String(i * 7).padStart(2, '0')} bastion-01 sshd[${4200 + i}]: Failed password for root from 198.51.100.9 port ${41100 + i} ssh2`,
    );
  const bodies: string[][] = Array.from({ length: parts }, () => []);
  for (const [i, l] of lines.entries()) bodies[i % parts]!.push(l);
  return bodies.map((b) => ({ source: 'syslog', text: `${b.join('\n')}\n`, records: b.length }));
}

/** CloudTrail records cut into request bodies of `size` records (`{"Records": […]}`). */
export function cloudTrailBodies(records: Array<Record<string, unknown>>, size: number): Body[] {
  const out: Body[] = [];
  for (let i = 0; i < records.length; i += size) {
    const part = records.slice(i, i + size);
    out.push({ source: 'cloudtrail', text: JSON.stringify({ Records: part }), records: part.length });
  }
  return out;
}
