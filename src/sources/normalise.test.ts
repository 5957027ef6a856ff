import { describe, expect, it } from 'vitest';
import { upstreamDetector } from '../detect/upstream.ts';
import type { EventDraft } from '../schema/event.ts';
import { finalizeEvent } from './normalise.ts';

const draft = (finding: Record<string, unknown>): EventDraft =>
  ({
    class_uid: 2004,
    class_name: 'Detection Finding',
    category_uid: 2,
    category_name: 'Findings',
    time: '2026-11-21T10:00:00.000Z',
    severity_id: 4,
    source_event_id: 'f-1',
    finding,
  }) as unknown as EventDraft;

describe('finalizeEvent', () => {
  it('gives a finding whose source pruned its empty lists the schema defaults, so detection can read them', async () => {
    const e = finalizeEvent(
      'guardduty',
      draft({ title: 'Odd finding', severity: 'high' }),
      '2026-11-21T10:00:01Z',
    );
    expect(e.finding?.tags).toEqual([]);
    expect(e.finding?.techniques).toEqual([]);
    const alerts = await upstreamDetector().detect([e]);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.detection.tags).toEqual([]);
  });

  it('keeps the lists a source gave, and derives the same id from the same source id', async () => {
    const a = finalizeEvent(
      'wazuh',
      draft({ title: 'x', severity: 'high', tags: ['sshd'], techniques: ['T1110'] }),
      'now',
    );
    const b = finalizeEvent('wazuh', draft({ title: 'x', severity: 'high' }), 'later');
    expect(a.finding?.techniques).toEqual(['T1110']);
    expect((await upstreamDetector().detect([a]))[0]!.detection.tags).toEqual(['sshd', 'attack.t1110']);
    expect(a.id).toBe(b.id);
    expect(a.source).toBe('wazuh');
    expect(a.status).toBe('unknown');
  });
});
