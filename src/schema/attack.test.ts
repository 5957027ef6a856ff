import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { sharedData } from '../../test/helpers/data.ts';
import { ATTACK_TACTICS } from './attack.ts';

interface StixObject {
  id: string;
  type: string;
  revoked?: boolean;
  x_mitre_deprecated?: boolean;
  x_mitre_shortname?: string;
  tactic_refs?: string[];
}

describe('ATT&CK tactics', () => {
  const bundle = sharedData('attack', 'enterprise-attack.json');
  it.skipIf(!bundle)('are the tactics of the Enterprise matrix, in its order', () => {
    const objects = (JSON.parse(readFileSync(bundle!, 'utf8')) as { objects: StixObject[] }).objects.filter(
      (o) => !o.revoked && !o.x_mitre_deprecated,
    );
    const shortname = new Map(
      objects.filter((o) => o.type === 'x-mitre-tactic').map((o) => [o.id, o.x_mitre_shortname]),
    );
    const matrices = objects.filter((o) => o.type === 'x-mitre-matrix');
    expect(matrices).toHaveLength(1);
    expect(matrices[0]!.tactic_refs!.map((ref) => shortname.get(ref))).toEqual([...ATTACK_TACTICS]);
  });
});
