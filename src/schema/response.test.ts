import { describe, expect, it } from 'vitest';
import {
  ActionStatus,
  FINAL_ACTION_STATUSES,
  LIVE_ACTION_STATUSES,
  OPEN_ACTION_STATUSES,
} from './response.ts';

describe('action statuses', () => {
  it('are open or final, never both, and live ones are statuses', () => {
    const open = new Set<string>(OPEN_ACTION_STATUSES);
    expect(FINAL_ACTION_STATUSES.filter((s) => open.has(s))).toEqual([]);
    expect(new Set(ActionStatus.options)).toEqual(
      new Set([...OPEN_ACTION_STATUSES, ...FINAL_ACTION_STATUSES]),
    );
    expect(ActionStatus.options).toHaveLength(OPEN_ACTION_STATUSES.length + FINAL_ACTION_STATUSES.length);
    for (const s of LIVE_ACTION_STATUSES) expect(ActionStatus.options).toContain(s);
    // Every open request still stands for its effect, so its key stays taken.
    for (const s of OPEN_ACTION_STATUSES) expect(LIVE_ACTION_STATUSES).toContain(s);
  });
});
