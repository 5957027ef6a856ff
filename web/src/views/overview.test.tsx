import { cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { filtersFromSearch } from '../lib/alert-filters.ts';
import { keyStore } from '../lib/api.ts';
import { fakeApi, renderRoute } from '../testing/harness-a.tsx';
import type { OverviewStats } from './overview.tsx';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  keyStore.clear();
});

const point = (t: string, critical: number, high: number) => ({
  t,
  critical,
  high,
  medium: 0,
  low: 1,
  informational: 0,
});

const stats: OverviewStats = {
  from: '2025-05-01T00:00:00Z',
  to: '2025-05-02T00:00:00Z',
  bucket_s: 900,
  events_per_source: [
    { source: 'cloudtrail', count: 86_400, per_s: 1 },
    { source: 'suricata', count: 864_000, per_s: 10 },
  ],
  alerts_over_time: [point('2025-05-01T00:00:00Z', 1, 2), point('2025-05-01T00:15:00Z', 3, 0)],
  incidents_open_by_priority: [
    { band: 'critical', min: 80, max: 100, count: 2 },
    { band: 'high', min: 60, max: 79, count: 5 },
    { band: 'medium', min: 40, max: 59, count: 0 },
    { band: 'low', min: 0, max: 39, count: 1 },
  ],
  pipeline: { pending: 120, capacity: 1000, dead_letters_total: 7, rejected_total: 42 },
  top_rules: [{ rule_id: '5a1b-rule&x=1', title: 'Access key created by <b>root</b>', count: 9 }],
  top_entities: [{ type: 'ip', value: '203.0.113.9', count: 4 }],
};

describe('overview', () => {
  it('shows each panel, summarises the chart in a table, and links top rules and entities to the queue', async () => {
    const api = fakeApi({ 'GET /stats/overview': () => stats }, { name: 'alice', scopes: ['read'] });
    const { router } = renderRoute('/');
    await screen.findByRole('heading', { name: 'Alerts by severity' });

    const call = api.apiCalls()[0]!;
    const from = Date.parse(call.query.get('from') ?? '');
    const to = Date.parse(call.query.get('to') ?? '');
    expect(to - from).toBe(86_400_000);
    expect(call.query.get('bucket_s')).toBe('900');

    expect(screen.getByRole('img', { name: /Alerts per severity, last 24 hours/ })).toBeTruthy();
    const summary = screen.getByRole('table', { name: /totals and peaks per severity/ });
    const critical = within(summary).getByRole('row', { name: /critical/ });
    expect(critical.textContent).toContain('4');
    expect(critical.textContent).toContain('3 at');

    const sources = screen.getByRole('region', { name: 'Events per source' });
    expect(
      within(sources)
        .getAllByRole('row')
        .map((r) => r.querySelector('th')?.textContent),
    ).toEqual(['Source', 'suricata', 'cloudtrail']);
    const pipeline = screen.getByRole('region', { name: 'Pipeline' });
    expect(pipeline.textContent).toContain('120 of 1,000');
    expect(pipeline.textContent).toContain('42 since start');
    expect(pipeline.textContent).toContain('7');

    const rule = screen.getByRole('link', { name: 'Access key created by <b>root</b>' });
    fireEvent.click(rule);
    await waitFor(() => expect(router.state.location.pathname).toBe('/alerts'));
    expect(filtersFromSearch(router.state.location.search).rule).toBe('5a1b-rule&x=1');
  });

  it('asks for the chosen range', async () => {
    const api = fakeApi({ 'GET /stats/overview': () => stats }, { name: 'alice', scopes: ['read'] });
    const { router } = renderRoute('/');
    await screen.findByRole('heading', { name: 'Alerts by severity' });
    fireEvent.click(screen.getByRole('radio', { name: /Last 7 days/ }));
    await waitFor(() => expect(api.apiCalls().at(-1)?.query.get('bucket_s')).toBe('7200'));
    const call = api.apiCalls().at(-1)!;
    expect(Date.parse(call.query.get('to')!) - Date.parse(call.query.get('from')!)).toBe(7 * 86_400_000);
    expect(router.state.location.search).toEqual({ range: '7d' });
    const entity = screen.getByRole('link', { name: '203.0.113.9' });
    expect(entity.getAttribute('href')).toContain('entity=203.0.113.9');
  });

  it('shows a refusal from the server', async () => {
    fakeApi({}, { name: 'alice', scopes: ['read'] });
    renderRoute('/');
    expect((await screen.findByRole('alert')).textContent).toContain('could not be loaded');
  });
});
