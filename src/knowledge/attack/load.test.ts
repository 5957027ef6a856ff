import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AisocError } from '../../errors.ts';
import { parseAttackBundle, readAttackBundle } from './load.ts';
import { attackLabel, currentTechniqueId } from './model.ts';

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
