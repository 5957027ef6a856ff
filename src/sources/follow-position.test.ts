import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers/runtime.ts';
import { defaultStateFile, filePositionStore } from './follow-position.ts';

const { dir, cleanup } = tempDir('aisoc-follow-position-');
afterAll(cleanup);

describe('follow state', () => {
  it('refuses a state file that is not a position, naming the field', async () => {
    const state = join(dir, 'bad.state.json');
    writeFileSync(state, '{"offset": "nope"');
    await expect(filePositionStore(state).load()).rejects.toMatchObject({ field: 'state' });
    writeFileSync(state, '{"offset": 3}');
    await expect(filePositionStore(state).load()).rejects.toMatchObject({
      code: 'AISOC_ERR_VALIDATION',
      field: 'state',
    });
  });

  it('names the default state file by a hash of the absolute path', () => {
    const a = defaultStateFile('/data', '/var/log/suricata/eve.json');
    expect(a).toMatch(/^\/data\/follow\/[0-9a-f]{32}\.json$/);
    expect(defaultStateFile('/data', '/var/log/suricata/eve.json')).toBe(a);
    expect(defaultStateFile('/data', '/var/log/other.json')).not.toBe(a);
  });
});
