import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Spread the system tests (real processes, real data sets) through the run
 * instead of letting them bunch up: each starts servers, threads or reads
 * hundreds of megabytes, and two or three at once on a 2-core machine that is
 * busy with something else slow every test beside them. The heaviest starts
 * first, so the longest file is not the one left running alone at the end;
 * the others follow at even intervals among the unit tests.
 */
export default class SpreadSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    // The base order puts failed and longer files first (from the cache of earlier runs), else larger files.
    const sorted = await super.sort(files);
    const system = sorted.filter((f) => f.project.name === 'system');
    const unit = sorted.filter((f) => f.project.name !== 'system');
    if (system.length === 0 || unit.length === 0) return sorted;
    const gap = Math.ceil(unit.length / system.length);
    const out: TestSpecification[] = [];
    for (let i = 0; i < system.length; i++) {
      out.push(system[i]!);
      out.push(...unit.slice(i * gap, (i + 1) * gap));
    }
    out.push(...unit.slice(system.length * gap));
    return out;
  }
}
