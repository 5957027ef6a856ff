import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AisocError } from '../../errors.ts';
import { parseAttackBundle, readAttackBundle } from './load.ts';
import { mergeAttackDomains, readAttackDomains } from './merge.ts';
import { attackLabel, currentTechniqueId } from './model.ts';
import { fetchAttackBundle, resolveAttackBundles } from './source.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const raw = (name: string) => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8'));

function code(fn: () => unknown): { code: string; field?: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof AisocError) return { code: err.code, field: err.field };
    throw err;
  }
  throw new Error('expected an AisocError');
}

describe.each([
  ['mini-attack-stix20.json', '2.0', undefined],
  ['mini-attack-stix21.json', '2.1', '18.1'],
] as const)('parseAttackBundle(%s)', (file, stix, version) => {
  const attack = parseAttackBundle(raw(file), file);

  it('records the STIX and ATT&CK versions', () => {
    expect(attack.stix_version).toBe(stix);
    expect(attack.version).toBe(version);
    expect(attack.spec_version).toBe('3.3.0');
    expect(attackLabel(attack)).toBe(version ? 'ATT&CK v18.1' : 'ATT&CK (spec 3.3.0, 2025-10-24)');
  });

  it('keeps active techniques and skips revoked and deprecated ones', () => {
    expect([...attack.techniques.keys()].sort()).toEqual([
      'T1003',
      'T1003.001',
      'T1053',
      'T1053.005',
      'T1059',
      'T1059.001',
      'T1562',
      'T1562.008',
      'T1574',
      'T1574.001',
    ]);
    expect(attack.stats.skipped_revoked_or_deprecated).toBe(4);
    expect(currentTechniqueId(attack, 'T1574.002')).toBe('T1574.001');
    expect(currentTechniqueId(attack, 'T1099')).toBeUndefined();
  });

  it('resolves a sub-technique with its parent, tactics, mitigations and v18 detection', () => {
    const t = attack.techniques.get('T1003.001')!;
    expect(t.parent_id).toBe('T1003');
    expect(attack.techniques.get('T1003')!.subtechniques).toEqual(['T1003.001']);
    expect(t.tactics).toEqual(['credential-access']);
    expect(t.description).toContain('(Citation: Fixture Vendor Report)');
    expect(t.text).not.toContain('Citation');
    expect(t.text).toContain('for example with Mimikatz and its sekurlsa module.');
    expect(t.mitigations).toEqual([
      {
        id: 'M1026',
        name: 'Privileged Account Management',
        text: 'Keep domain admins out of local administrator groups.',
      },
    ]);
    expect(t.detection_strategies).toEqual(['DET9001']);
    expect(t.data_sources).toEqual(['Process Access']);
    expect(t.detection).toContain('A process opens lsass.exe with full access');
    expect(t.url).toBe('https://attack.mitre.org/techniques/T1003/001');
  });

  it('reads pre-v18 data sources and detection text', () => {
    const t = attack.techniques.get('T1562.008')!;
    expect(t.data_sources).toEqual(['Cloud Service: Cloud Service Disable']);
    expect(t.detection).toBe('Watch CloudTrail for StopLogging and DeleteTrail calls.');
  });

  it('orders tactics by the matrix', () => {
    expect(attack.techniques.get('T1053.005')!.tactics).toEqual(['execution', 'persistence']);
  });

  it('keeps procedure examples of active actors on active techniques, with text stripped', () => {
    const byTech = attack.procedures.map((p) => `${p.source_id}>${p.technique_id}`).sort();
    expect(byTech).toEqual([
      'C9001>T1562.008',
      'G9001>T1003.001',
      'G9001>T1059.001',
      'S0002>T1003.001',
      'S9001>T1053.005',
      'S9001>T1574.001',
    ]);
    const mimikatz = attack.procedures.find((p) => p.source_id === 'S0002')!;
    expect(mimikatz.source_kind).toBe('software');
    expect(mimikatz.text).toBe('Mimikatz reads credentials from LSASS memory with sekurlsa::logonpasswords.');
    expect(attack.techniques.get('T1003.001')!.procedure_count).toBe(2);
  });

  it('keeps only current mitigations, groups, software and campaigns', () => {
    expect([...attack.mitigations.keys()]).toEqual(['M1026']);
    expect(attack.mitigations.get('M1026')!.techniques).toEqual(['T1003', 'T1003.001']);
    expect([...attack.actors.keys()].sort()).toEqual(['C9001', 'G9001', 'S0002', 'S9001']);
    expect(attack.actors.get('S9001')).toMatchObject({
      kind: 'software',
      software_type: 'malware',
      aliases: ['FLoad'],
    });
    expect(attack.actors.get('C9001')!.first_seen).toBe('2024-01-01T00:00:00.000Z');
    expect(attack.detection_strategies.get('DET9001')!.analytics[0]!.log_sources).toEqual([
      { data_component: 'Process Access', name: 'sysmon', channel: 'EventCode=10' },
    ]);
  });
});

describe('parseAttackBundle on bad input', () => {
  it('names the field when the input is not a bundle', () => {
    expect(code(() => parseAttackBundle({ type: 'indicator' }))).toEqual({
      code: 'AISOC_ERR_ATTACK_BUNDLE',
      field: 'type',
    });
    expect(code(() => parseAttackBundle({ type: 'bundle', objects: 3 }))).toEqual({
      code: 'AISOC_ERR_ATTACK_BUNDLE',
      field: 'objects',
    });
    expect(code(() => parseAttackBundle(null)).code).toBe('AISOC_ERR_ATTACK_BUNDLE');
  });

  it('refuses a bundle without techniques', () => {
    expect(code(() => parseAttackBundle({ type: 'bundle', objects: [] })).field).toBe('objects');
  });

  it('skips malformed objects, reporting the field, and keeps the rest', () => {
    const b = raw('mini-attack-stix20.json');
    b.objects.push(
      42,
      { type: 'attack-pattern' },
      { type: 'attack-pattern', id: 'attack-pattern--x', name: 7 },
    );
    const attack = parseAttackBundle(b);
    expect(attack.techniques.size).toBe(10);
    expect(attack.stats.skipped_invalid).toBe(3);
    expect(attack.issues.map((i) => i.field)).toEqual([
      `objects[${b.objects.length - 3}]`,
      `objects[${b.objects.length - 2}].id`,
      'name',
    ]);
  });

  it('reports unreadable and non-JSON files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aisoc-attack-'));
    try {
      writeFileSync(join(dir, 'bad.json'), '{"type": "bundle",');
      expect(code(() => readAttackBundle(join(dir, 'bad.json'))).code).toBe('AISOC_ERR_ATTACK_BUNDLE');
      expect(code(() => readAttackBundle(join(dir, 'missing.json'))).field).toBe('knowledge.attack_path');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ATT&CK Mobile and ICS', () => {
  const enterprise = parseAttackBundle(raw('mini-attack-stix20.json'), 'enterprise');
  const mobile = parseAttackBundle(raw('mini-mobile-attack.json'), 'mobile');
  const ics = parseAttackBundle(raw('mini-ics-attack.json'), 'ics');

  it('reads the domain from the kill chain and keeps Mobile and ICS tactics', () => {
    expect(enterprise.techniques.get('T1003')!.domain).toBe('enterprise');
    const keylogging = mobile.techniques.get('T1417.001')!;
    expect(keylogging).toMatchObject({ domain: 'mobile', parent_id: 'T1417' });
    // In the order of the Mobile matrix, not Enterprise's.
    expect(keylogging.tactics).toEqual(['credential-access', 'collection']);
    expect(mobile.tactics.get('TA0031')).toMatchObject({ domain: 'mobile', shortname: 'credential-access' });
    expect(ics.techniques.get('T0855')).toMatchObject({ domain: 'ics', tactics: ['impair-process-control'] });
    expect(mobile.procedures.map((p) => `${p.source_id}>${p.technique_id}`).sort()).toEqual([
      'S9001>T1417.001',
      'S9001>T1636.002',
    ]);
  });

  it('merges the domains into one ATT&CK, Enterprise naming the release', () => {
    const all = mergeAttackDomains([enterprise, mobile, ics]);
    expect(all.domains!.map((d) => [d.domain, d.techniques])).toEqual([
      ['enterprise', 10],
      ['mobile', 4],
      ['ics', 2],
    ]);
    expect(attackLabel(all)).toBe(attackLabel(enterprise));
    expect(all.techniques.size).toBe(16);
    expect(all.techniques.get('T1003')!.domain).toBe('enterprise');
    expect(all.techniques.get('T0855')!.domain).toBe('ics');
    // Enterprise's software S9001 and the Mobile fixture's S9001 share an id: the first bundle's record stays.
    expect(all.actors.get('S9001')!.name).toBe(enterprise.actors.get('S9001')!.name);
    expect(all.procedures.length).toBe(enterprise.procedures.length + 2);
    expect(all.tactics.get('TA0006')!.shortname).toBe('credential-access');
    expect(all.tactics.get('TA0031')!.shortname).toBe('credential-access');
    expect(currentTechniqueId(all, 'T1574.002')).toBe('T1574.001');
  });

  it('finds the other domains beside the Enterprise bundle and says which are missing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aisoc-domains-'));
    try {
      writeFileSync(
        join(dir, 'enterprise-attack.json'),
        readFileSync(join(FIXTURES, 'mini-attack-stix20.json')),
      );
      writeFileSync(join(dir, 'mobile-attack.json'), readFileSync(join(FIXTURES, 'mini-mobile-attack.json')));
      const config = { attack_path: join(dir, 'enterprise-attack.json'), cache_dir: join(dir, 'cache') };
      const found = resolveAttackBundles(config, {}, join(dir, 'repo'));
      expect(found.bundles.map((b) => b.domain)).toEqual(['enterprise', 'mobile']);
      expect(found.missing.map((m) => m.domain)).toEqual(['ics']);
      const only = resolveAttackBundles({ ...config, attack_domains: ['enterprise'] }, {}, join(dir, 'repo'));
      expect(only.bundles.map((b) => b.domain)).toEqual(['enterprise']);
      expect(only.missing).toEqual([]);
      const merged = readAttackDomains(found.bundles);
      expect(merged.techniques.get('T1417')!.domain).toBe('mobile');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('kb load refuses a bundle of another domain than asked for', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aisoc-domains-'));
    try {
      const err = await fetchAttackBundle(
        join(FIXTURES, 'mini-attack-stix20.json'),
        join(dir, 'mobile-attack.json'),
        1000,
        'mobile',
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AisocError);
      expect((err as AisocError).message).toContain('holds ATT&CK enterprise, not mobile');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
