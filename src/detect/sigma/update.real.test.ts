import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { sharedData } from '../../../test/helpers/data.ts';
import { AisocError } from '../../errors.ts';
import { severityRank } from '../../schema/common.ts';
import { SigmaConfig, SigmaHqConfig } from './config.ts';
import { loadRuleSet } from './index.ts';
import { installedRulesDir, treeDigest, updateSigmaHq } from './update.ts';

/** `aisoc rules update` pointed at the SigmaHQ rules in ../shared/data/sigma (an unpacked release). */
const SIGMA = sharedData('sigma');

describe.skipIf(!SIGMA)('rules update from ../shared/data/sigma', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'aisoc-sigmahq-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
  // One collection keeps the test short; the curation is the same for all.
  const config = SigmaHqConfig.parse({ collections: ['rules-emerging-threats'] });

  it('refuses the tree unpinned, then installs it pinned to its tree digest: stable and test rules of medium and above, all of which load', async () => {
    const err = await updateSigmaHq({ dataDir, config, from: SIGMA! }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AisocError);
    const digest = treeDigest(SIGMA!);
    expect((err as AisocError).message).toContain(digest);

    const m = await updateSigmaHq({ dataDir, config, from: SIGMA!, sha256: digest });
    expect(m).toMatchObject({ kind: 'tree', verified_by: 'sha256', sha256: digest });
    expect(m.files_enabled).toBeGreaterThan(100);
    expect(m.files_enabled + m.left_out.status + m.left_out.level + m.left_out.deprecated).toBe(m.files_seen);
    expect(m.left_out.status + m.left_out.level).toBeGreaterThan(0);

    const dir = installedRulesDir(dataDir);
    const files = readdirSync(dir, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.yml'));
    expect(files).toHaveLength(m.files_enabled);
    for (const f of files) {
      const docs = parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map(
        (d) => d.toJSON() as { status: string; level?: string },
      );
      expect(
        docs.every((d) => ['stable', 'test'].includes(d.status)),
        f,
      ).toBe(true);
      expect(
        Math.max(...docs.map((d) => (d.level ? severityRank(d.level as 'low') : -1))),
        f,
      ).toBeGreaterThanOrEqual(severityRank('medium'));
    }
    const stats = loadRuleSet([dir], SigmaConfig.parse({})).stats();
    expect(stats.invalid).toBe(0);
    expect(stats.detection + stats.correlation).toBe(m.rules_enabled);
  });
});
