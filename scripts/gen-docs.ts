/** `npm run docs`: regenerate docs/SCHEMA.md, docs/CONFIG.md and the README's configuration table. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configDoc, configTable, schemaDoc } from '../src/docs/generate.ts';

const root = join(import.meta.dirname, '..');
writeFileSync(join(root, 'docs/SCHEMA.md'), schemaDoc());
writeFileSync(join(root, 'docs/CONFIG.md'), configDoc());
const readmePath = join(root, 'README.md');
const readme = readFileSync(readmePath, 'utf8');
const start = '<!-- config:start -->';
const end = '<!-- config:end -->';
const i = readme.indexOf(start);
const j = readme.indexOf(end);
if (i >= 0 && j > i) {
  writeFileSync(readmePath, `${readme.slice(0, i + start.length)}\n${configTable(1)}\n${readme.slice(j)}`);
}
console.log('Wrote docs/SCHEMA.md, docs/CONFIG.md and the README configuration table.');
