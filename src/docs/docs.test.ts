import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configDoc, configTable, schemaDoc } from './generate.ts';

const root = join(import.meta.dirname, '../..');

describe('generated documentation', () => {
  it('docs/SCHEMA.md matches the schemas (run `npm run docs` after changing them)', () => {
    expect(readFileSync(join(root, 'docs/SCHEMA.md'), 'utf8')).toBe(schemaDoc());
  });

  it('docs/CONFIG.md and the README configuration table match the config schema', () => {
    expect(readFileSync(join(root, 'docs/CONFIG.md'), 'utf8')).toBe(configDoc());
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    expect(readme).toContain(configTable(1));
  });

  it('documents every event field, including nested ones', () => {
    const doc = schemaDoc();
    for (const field of [
      '`actor.user.credential_uid`',
      '`network.bytes_out`',
      '`cloud.operation`',
      '`source_event_id`',
      '`evidence[].claim`',
    ]) {
      expect(doc).toContain(field);
    }
  });
});
