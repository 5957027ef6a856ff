/**
 * axe-core over the issue-14 views as they render with data, in happy-dom. Colour contrast needs real layout
 * and is left to the end-to-end run in Chromium; every structural rule (names, labels, headings order,
 * landmarks, ARIA, tables) is checked here.
 */
import { act, cleanup, fireEvent, screen } from '@testing-library/react';
import axe from 'axe-core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { keyStore } from '../lib/api.ts';
import { fakeApi, renderView } from '../lib/b-test-harness.tsx';
import type {
  Alert,
  AlertDetail as AlertDetailT,
  AuditEntry,
  Case,
  Incident,
  NormalisedEvent,
} from '../lib/types.ts';
import AlertDetail from './alert-detail.tsx';
import Audit from './audit.tsx';
import CaseDetail from './case-detail.tsx';
import Cases from './cases.tsx';
import Coverage from './coverage.tsx';
import EventDetail from './event-detail.tsx';
import Events from './events.tsx';
import Incidents from './incidents.tsx';
import Rules from './rules.tsx';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  keyStore.clear();
});

async function violations(): Promise<string[]> {
  const result = await axe.run(document.body, {
    rules: { 'color-contrast': { enabled: false } },
    resultTypes: ['violations'],
  });
  return result.violations.map(
    (v) => `${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(' | ')}`,
  );
}

const T0 = '2026-01-10T10:00:00.000Z';
const U = (n: number) => `0190a000-0000-7000-8000-${String(n).padStart(12, '0')}`;
const alert: Alert = {
  id: U(1),
  fingerprint: 'f',
  title: 'Root console login',
  source: 'cloudtrail',
  severity: 'critical',
  priority: 90,
  status: 'new',
  detections: [
    { engine: 'sigma', rule_id: 'r1', rule_title: 'Root login', level: 'high', tags: [], event_ids: [] },
  ],
  event_ids: [],
  count: 1,
  entities: [{ type: 'user', value: 'root' }],
  mitre_techniques: ['T1078'],
  mitre_tactics: [],
  first_seen: T0,
  last_seen: T0,
  created_at: T0,
  updated_at: T0,
};
const incident: Incident = {
  id: U(2),
  title: 'Root activity',
  status: 'open',
  severity: 'critical',
  priority: 90,
  alert_ids: [U(1)],
  alert_count: 1,
  entities: [{ type: 'user', value: 'root' }],
  mitre_techniques: [],
  mitre_tactics: [],
  first_seen: T0,
  last_seen: T0,
  created_at: T0,
  updated_at: T0,
};
const kase: Case = {
  id: U(3),
  incident_id: U(2),
  title: 'Root activity',
  status: 'in_progress',
  severity: 'critical',
  assignee: 'alice',
  tasks: [{ id: 't1', title: 'Confirm', status: 'open' }],
  observables: [{ type: 'ip', value: '203.0.113.7', ioc: true, event_id: U(4) }],
  comments: [{ id: 'c1', author: 'bob', text: 'Looked at it.', created_at: T0 }],
  timeline: [{ at: T0, actor: 'system', action: 'case.created' }],
  created_at: T0,
  updated_at: T0,
};
const event: NormalisedEvent = {
  id: U(4),
  source: 'cloudtrail',
  time: T0,
  ingested_at: T0,
  class_uid: 6003,
  class_name: 'API Activity',
  category_uid: 6,
  category_name: 'Application Activity',
  activity_name: 'ConsoleLogin',
  severity_id: 1,
  status: 'success',
  actor: { user: { name: 'root' } },
  observables: [],
  metadata: {},
  raw: { eventName: 'ConsoleLogin' },
};
const audit: AuditEntry[] = [1, 2, 3].map((id) => ({
  id,
  at: T0,
  actor: 'alice',
  action: 'case.update',
  target_type: 'case',
  target_id: U(3),
  details: { changes: ['status'] },
}));

function api(scopes: Parameters<typeof fakeApi>[0]) {
  return fakeApi(scopes)
    .on('GET /incidents', { items: [incident], total: 1 })
    .on('GET /incidents/:id', { ...incident, alerts: [alert] })
    .on('GET /cases', { items: [kase], total: 1 })
    .on('GET /cases/:id', kase)
    .on('GET /suppressions', { items: [] })
    .on('GET /events', { items: [event], total: 1 })
    .on('GET /events/:id', event)
    .on('GET /sources', {
      items: [
        {
          type: 'cloudtrail',
          description: 'AWS',
          rules: 3,
          verdicts: null,
          per_s: 1,
          events_last_hour: 3600,
        },
        { type: 'generic', description: 'Any JSON', rules: 0, verdicts: null, per_s: 0, events_last_hour: 0 },
      ],
    })
    .on('GET /rules', {
      items: [
        {
          id: 'r1',
          title: 'Root login',
          engine: 'sigma',
          level: 'high',
          status: 'stable',
          techniques: ['T1078'],
          hits: 3,
          lint: { state: 'warning', messages: ['no falsepositives'] },
        },
      ],
      total: 1,
    })
    .on('GET /dead-letters', {
      items: [
        { id: 1, at: T0, source: 'cloudtrail', stage: 'normalise', code: 'X', reason: 'bad', record: '{}' },
      ],
      total: 1,
    })
    .on('GET /audit', (c) => ({
      items: audit
        .filter((e) => e.id > Number(c.query.get('after_id')))
        .slice(0, Number(c.query.get('limit'))),
      next_after_id: null,
    }))
    .on('GET /coverage', {
      tactics: [
        { id: 'TA0001', shortname: 'initial-access', name: 'Initial Access' },
        { id: 'TA0003', shortname: 'persistence', name: 'Persistence' },
      ],
      techniques: [
        {
          id: 'T1078',
          name: 'Valid Accounts',
          tactics: ['initial-access', 'persistence'],
          rules: 2,
          alerts: 1,
        },
        { id: 'T1098', name: 'Account Manipulation', tactics: ['persistence'], rules: 0, alerts: 0 },
      ],
    })
    .on('GET /coverage/:t', {
      technique: { id: 'T1078', name: 'Valid Accounts' },
      rules: [{ id: 'r1', title: 'Root login', level: 'high', status: 'stable' }],
      alerts: [alert],
    });
}

describe('axe over the views', () => {
  it('an alert whose detection level was moved, with its reasons and rarity', async () => {
    const detail: AlertDetailT = {
      ...alert,
      detections: [
        {
          engine: 'sigma',
          rule_id: 'r1',
          rule_title: 'Root login',
          level: 'medium',
          rule_level: 'high',
          level_reasons: [
            'rarity 0.5: every part of the call seen on an earlier call of root; lowered from high',
          ],
          rarity: { verdict: 'familiar', score: 0.5, first_seen: [], identity: 'root' },
          tags: [],
          event_ids: [],
        },
      ],
      events: [],
      verdict: null,
    };
    api(['analyst']).on('GET /alerts/:id', detail);
    renderView(AlertDetail, '/alerts/$id', `/alerts/${U(1)}`);
    await screen.findByRole('list', { name: 'Why the level moved' });
    expect(await violations()).toEqual([]);
  });

  it('incidents, cases and a case being closed as a false positive', async () => {
    api(['analyst']);
    renderView(Incidents, '/incidents', '/incidents');
    await screen.findByRole('link', { name: 'Root activity' });
    expect(await violations()).toEqual([]);
    cleanup();

    renderView(Cases, '/cases', '/cases');
    await screen.findByRole('link', { name: 'Root activity' });
    expect(await violations()).toEqual([]);
    cleanup();

    renderView(CaseDetail, '/cases/$id', `/cases/${U(3)}`);
    fireEvent.click(await screen.findByLabelText('False positive'));
    await screen.findByLabelText('Entity');
    expect(await violations()).toEqual([]);
    fireEvent.click(screen.getByRole('button', { name: 'Review closing' }));
    await screen.findByRole('heading', { name: 'Suppression to be created' });
    expect(await violations()).toEqual([]);
  });

  it('coverage with a cell open, events with results, an event, rules tabs and the audit trail', async () => {
    api(['admin']);
    renderView(Coverage, '/coverage', '/coverage');
    fireEvent.click((await screen.findAllByRole('button', { name: /Valid Accounts/ }))[0]!);
    await screen.findByRole('heading', { name: 'Rules (1)' });
    expect(await violations()).toEqual([]);
    cleanup();

    renderView(Events, '/events', '/events');
    await screen.findByRole('link', { name: 'ConsoleLogin' });
    expect(await violations()).toEqual([]);
    cleanup();

    renderView(EventDetail, '/events/$id', `/events/${U(4)}?fields=actor.user.name,nothing`);
    await screen.findByRole('region', { name: 'The event as JSON' });
    expect(await violations()).toEqual([]);
    cleanup();

    renderView(Rules, '/rules', '/rules');
    await screen.findByText('no falsepositives');
    expect(await violations()).toEqual([]);
    for (const tab of ['Sources', 'Dead letters']) {
      await act(async () => fireEvent.click(screen.getByRole('tab', { name: tab })));
      await screen.findByRole('heading', { level: 2, name: tab });
      await screen.findAllByText('cloudtrail');
      expect(await violations()).toEqual([]);
    }
    cleanup();

    renderView(Audit, '/audit', '/audit');
    await screen.findByText(/^3 entries/);
    expect(await violations()).toEqual([]);
  });
});
