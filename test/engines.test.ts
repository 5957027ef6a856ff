import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { minVersion, satisfies } from 'semver';
import { describe, expect, it } from 'vitest';
import { REPO } from './helpers/process.ts';

interface LockPackage {
  engines?: { node?: string } | string[];
  version?: string;
}

const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, LockPackage>;
};

/** The oldest Node version of each alternative of our `engines` range: each must run everything we install. */
const oldest = pkg.engines.node.split('||').map((part) => minVersion(part.trim())!.version);

describe('supported Node versions', () => {
  it('every installed package accepts the oldest Node of each range package.json claims', () => {
    expect(oldest.length).toBeGreaterThan(0);
    const refused: string[] = [];
    for (const [path, p] of Object.entries(lock.packages)) {
      const range = Array.isArray(p.engines) ? undefined : p.engines?.node;
      if (!path || !range) continue;
      for (const v of oldest)
        if (!satisfies(v, range))
          refused.push(`${path.replace(/^.*node_modules\//, '')}@${p.version} needs node ${range}, not ${v}`);
    }
    expect(refused).toEqual([]);
  });

  it('says the same range in the README', () => {
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    expect(readme).toContain(`\`${pkg.engines.node}\``);
  });
});
