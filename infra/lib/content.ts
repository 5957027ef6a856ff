import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readAttackBundle } from '../../src/knowledge/attack/load.ts';
import { resolveAttackPath } from '../../src/knowledge/attack/source.ts';
import { SNAPSHOT_FORMAT } from '../../src/knowledge/snapshot/format.ts';
import { buildAttackIndex } from '../../src/knowledge/snapshot/index.ts';
import { VERSION } from '../../src/version.ts';
import { type DeployConfig, productConfig } from './config.ts';

/** The repository root. */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD = join(REPO, 'infra', '.build');

/**
 * The content layer, laid out under `aisoc/` (so at `/opt/aisoc` in a
 * function, which sets `AISOC_HOME` there): the Sigma rules and pipelines
 * and the playbooks and runbooks of `content/`, the models of `models/`,
 * the ATT&CK knowledge index built from the bundle, and the configuration
 * file written from context. The container ships the same files.
 */
export function stageContentLayer(c: DeployConfig): string {
  const root = join(BUILD, 'layer');
  const home = join(root, 'aisoc');
  rmSync(root, { recursive: true, force: true });
  for (const dir of ['content/rules', 'content/sigma/pipelines', 'content/playbooks', 'content/runbooks']) {
    cpSync(join(REPO, dir), join(home, dir), { recursive: true });
  }
  mkdirSync(join(home, 'models'), { recursive: true });
  for (const f of readdirSync(join(REPO, 'models')).filter((f) => f.endsWith('.aisoc-model')))
    cpSync(join(REPO, 'models', f), join(home, 'models', f));
  mkdirSync(join(home, 'knowledge'), { recursive: true });
  cpSync(knowledgeIndex(c), join(home, 'knowledge', 'knowledge-index.bin'));
  writeFileSync(join(home, 'aisoc.json'), `${JSON.stringify(productConfig(c), null, 2)}\n`);
  return root;
}

/** The ATT&CK index, built once per bundle and code version and kept under infra/.build. */
export function knowledgeIndex(c: DeployConfig): string {
  const choice = resolveAttackPath(c.attackBundle ? { attack_path: c.attackBundle } : {});
  if (!choice.path || !existsSync(choice.path))
    throw new Error(
      `No ATT&CK bundle for the knowledge index (looked in ${choice.tried.join(', ')}): set -c aisoc:attackBundle=PATH or run \`aisoc kb load\``,
    );
  const st = statSync(choice.path);
  const key = createHash('sha256')
    .update(JSON.stringify([choice.path, st.size, st.mtimeMs, SNAPSHOT_FORMAT, VERSION, codeStamp()]))
    .digest('hex')
    .slice(0, 24);
  const file = join(BUILD, `knowledge-index-${key}.bin`);
  if (!existsSync(file)) {
    mkdirSync(BUILD, { recursive: true });
    writeFileSync(file, new Uint8Array(buildAttackIndex(readAttackBundle(choice.path))));
  }
  return file;
}

/** The knowledge code the index depends on (a change rebuilds it). */
function codeStamp(): string {
  const h = createHash('sha256');
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) h.update(readFileSync(p));
    }
  };
  walk(join(REPO, 'src', 'knowledge'));
  return h.digest('hex');
}
