import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { sharedData } from '../../test/helpers/data.ts';
import { AisocError } from '../errors.ts';
import { readAttackBundle } from './attack/load.ts';
import { currentTechniqueId } from './attack/model.ts';
import { parseNvdFeed, readNvdFeed } from './cve.ts';
import { incidentDocument } from './incidents.ts';
import { loadRunbooks, parseRunbook } from './runbooks.ts';

const FEED = join(import.meta.dirname, 'fixtures', 'nvd-cve-2.0-sample.json');
const RUNBOOKS = join(import.meta.dirname, '../../content/runbooks');
const tmp = mkdtempSync(join(tmpdir(), 'aisoc-knowledge-sources-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('NVD CVE JSON 2.0', () => {
  it('turns each CVE into a document with score, weaknesses, products and KEV status', () => {
    const { documents, rejected, invalid } = readNvdFeed(FEED);
    expect(documents.map((d) => d.id)).toEqual(['CVE-2099-0001', 'CVE-2099-0002']);
    expect(rejected).toBe(1);
    expect(invalid).toEqual([
      {
        index: 3,
        field: 'vulnerabilities[3].cve.descriptions',
        message: 'must hold at least one description',
      },
    ]);
    const [first, second] = documents;
    expect(first!.metadata).toMatchObject({
      kind: 'cve',
      cvss_version: '3.1',
      cvss_score: 10,
      cvss_severity: 'CRITICAL',
      cwes: ['CWE-917', 'CWE-502'],
      products: ['examplesoft log thing'],
      known_exploited: true,
      url: 'https://nvd.nist.gov/vuln/detail/CVE-2099-0001',
    });
    expect(first!.text).toContain('LogThing before 3.2 by Examplesoft evaluates lookup expressions');
    expect(first!.text).not.toContain('anterior');
    expect(first!.text).toContain('Known exploited (CISA KEV, added 2099-01-02): Apply the vendor update');
    expect(first!.title).toBe('CVE-2099-0001 Examplesoft LogThing Remote Code Execution');
    // Only a secondary score: it is used rather than none.
    expect(second!.metadata).toMatchObject({ cvss_score: 6.5, known_exploited: false });
  });

  it('reads gzip-compressed feeds', () => {
    const gz = join(tmp, 'feed.json.gz');
    writeFileSync(gz, gzipSync(readFileSync(FEED)));
    expect(readNvdFeed(gz).documents).toHaveLength(2);
  });

  it('refuses what is not an NVD 2.0 feed, naming the field', () => {
    const fail = (raw: unknown) => {
      try {
        parseNvdFeed(raw, 'x.json');
      } catch (err) {
        return (err as AisocError).field;
      }
      return 'no error';
    };
    expect(fail({ CVE_Items: [] })).toBe('vulnerabilities');
    expect(fail({ format: 'OTHER', vulnerabilities: [] })).toBe('format');
    expect(fail({ format: 'NVD_CVE', version: '1.1', vulnerabilities: [] })).toBe('version');
    expect(() => readNvdFeed(join(tmp, 'missing.json'))).toThrow(AisocError);
  });
});

describe('runbooks', () => {
  it('splits a runbook into section documents with front matter metadata', () => {
    const docs = parseRunbook(
      '---\ntitle: Test book\nactions: [notify.slack]\ntechniques: [T1110]\n---\n# Heading one\n\nIntro text.\n\n## Steps\n\n```\n# not a heading\n```\n\n### Detail\n\nMore.\n\n## Empty\n',
      'test-book.md',
    );
    expect(docs.map((d) => d.id)).toEqual([
      'test-book#overview',
      'test-book#steps',
      'test-book#steps-detail',
    ]);
    expect(docs[1]!.title).toBe('Test book › Steps');
    expect(docs[1]!.text).toContain('# not a heading');
    expect(docs[2]!.metadata).toMatchObject({
      kind: 'runbook',
      runbook: 'test-book',
      section: 'Steps › Detail',
      actions: ['notify.slack'],
      techniques: ['T1110'],
      line: 16,
    });
  });

  it('reports a bad file with its field and keeps loading the others', () => {
    const dir = join(tmp, 'books');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'good.md'), '# Good\n\n## Steps\nDo it.\n');
    writeFileSync(join(dir, 'bad.md'), '---\ntechniques: [not-an-id]\n---\n# Bad\n');
    const r = loadRunbooks([dir, join(tmp, 'absent')], tmp);
    expect(r.documents.map((d) => d.id)).toEqual(['good#steps']);
    expect(r.errors.map((e) => e.field)).toEqual(['techniques.0', 'knowledge.runbook_dirs']);
  });

  it('ships a runbook for every response action and the three scenarios, all well formed', () => {
    const r = loadRunbooks([RUNBOOKS], join(RUNBOOKS, '../..'));
    expect(r.errors).toEqual([]);
    const actions = new Set(r.documents.flatMap((d) => (d.metadata.actions as string[] | undefined) ?? []));
    for (const a of [
      'aws.iam.disable_access_key',
      'aws.ec2.revoke_security_group_ingress',
      'aws.ec2.quarantine_instance',
      'aws.secretsmanager.rotate_secret',
      'aws.wafv2.block_ip',
      'notify.slack',
    ])
      expect(actions).toContain(a);
    const books = new Set(r.documents.map((d) => d.metadata.runbook));
    for (const b of ['ssh-brute-force', 'credential-compromise', 'cloudtrail-tampering'])
      expect(books).toContain(b);
  });

  const attackFile = sharedData('attack', 'enterprise-attack.json');
  it.skipIf(!attackFile)('names only techniques that exist in the current ATT&CK', () => {
    const attack = readAttackBundle(attackFile!);
    const r = loadRunbooks([RUNBOOKS], join(RUNBOOKS, '../..'));
    const unknown = r.documents
      .flatMap((d) => (d.metadata.techniques as string[] | undefined) ?? [])
      .filter((t) => currentTechniqueId(attack, t) !== t);
    expect(unknown).toEqual([]);
  });
});

describe('incidentDocument', () => {
  const incident = {
    id: '0190e0a0-0000-7000-8000-000000000001',
    title: 'Access key used from a VPS',
    status: 'closed' as const,
    severity: 'high' as const,
    priority: 85,
    alert_ids: [],
    alert_count: 2,
    entities: [{ type: 'access_key' as const, value: 'AKIAEXAMPLE' }],
    mitre_techniques: ['T1078.004'],
    mitre_tactics: ['initial-access'],
    first_seen: '2099-01-01T00:00:00Z',
    last_seen: '2099-01-01T01:00:00Z',
    created_at: '2099-01-01T00:00:00Z',
    updated_at: '2099-01-01T02:00:00Z',
  };

  it('describes the incident, its alerts and outcome, keyed by the incident id', () => {
    const doc = incidentDocument({
      incident,
      summary: 'The key was disabled; no data was read.',
      alerts: [
        { title: 'CreateAccessKey by an unusual IP', description: 'x', mitre_techniques: ['T1098.001'] },
      ],
    });
    expect(doc.id).toBe(`incident:${incident.id}`);
    expect(doc.text).toContain('The key was disabled; no data was read.');
    expect(doc.text).toContain('ATT&CK techniques: T1078.004, T1098.001.');
    expect(doc.text).toContain('access_key AKIAEXAMPLE');
    expect(doc.metadata).toMatchObject({ kind: 'incident', incident_id: incident.id, severity: 'high' });
  });

  it('needs an incident or a case', () => {
    expect(() => incidentDocument({})).toThrow(TypeError);
  });
});
