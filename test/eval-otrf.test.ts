import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { datasetTechniques, parentTechnique } from '../scripts/eval/otrf-windows.ts';

/** The OTRF evaluation script's reading of dataset metadata (the run itself is `node --import tsx scripts/eval/otrf-windows.ts`). */
describe('OTRF evaluation: techniques of a dataset', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aisoc-otrf-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads parent techniques from ids and rule tags', () => {
    expect(parentTechnique('T1003.001')).toBe('T1003');
    expect(parentTechnique('attack.t1021.002')).toBe('T1021');
    expect(parentTechnique('attack.credential_access')).toBeUndefined();
    expect(parentTechnique('TA0005')).toBeUndefined();
  });

  it('maps each dataset file of the metadata to its techniques', () => {
    writeFileSync(
      join(dir, 'SDWIN-1.yaml'),
      `title: WDigest
attack_mappings:
  - technique: T1112
    sub-technique:
  - technique: T1003
    sub-technique: '001'
files:
  - type: Host
    link: https://raw.githubusercontent.com/OTRF/Security-Datasets/master/datasets/atomic/windows/defense_evasion/host/empire_wdigest_downgrade.tar.gz
  - type: Network
    link: https://raw.githubusercontent.com/OTRF/Security-Datasets/master/datasets/atomic/windows/defense_evasion/network/empire_wdigest_downgrade.zip
`,
    );
    writeFileSync(join(dir, 'SDWIN-2.yaml'), 'title: no mappings\nfiles: []\n');
    const m = datasetTechniques(dir);
    expect([...m.keys()].sort()).toEqual(['empire_wdigest_downgrade.tar.gz', 'empire_wdigest_downgrade.zip']);
    expect([...m.get('empire_wdigest_downgrade.tar.gz')!].sort()).toEqual(['T1003', 'T1112']);
  });
});
