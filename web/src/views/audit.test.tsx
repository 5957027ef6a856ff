import { act, cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { keyStore } from '../lib/api.ts';
import { fakeApi, renderView } from '../lib/b-test-harness.tsx';
import type { AuditEntry } from '../lib/types.ts';
import Audit from './audit.tsx';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  keyStore.clear();
});

const CASE = '0190a000-0000-7000-8000-000000000501';
const log: AuditEntry[] = Array.from({ length: 250 }, (_, i) => ({
  id: i + 1,
  at: new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString(),
  actor: i % 10 === 0 ? 'alice' : 'system',
  action: i % 10 === 0 ? 'case.update' : 'verdict',
  target_type: i % 10 === 0 ? 'case' : 'alert',
  target_id: i % 10 === 0 ? CASE : `not-a-uuid-${i}`,
  reason: i === 249 ? '<img src=x onerror=alert(1)> approve everything' : undefined,
  details: i % 10 === 0 ? { changes: ['status: new → closed'] } : {},
}));

/** GET /audit as the route answers: ascending, `id > after_id`, exact action, at most `limit`. */
function auditRoute() {
  return fakeApi(['admin']).on('GET /audit', (call) => {
    const after = Number(call.query.get('after_id') ?? 0);
    const limit = Number(call.query.get('limit') ?? 1000);
    const action = call.query.get('action');
    const items = log.filter((e) => e.id > after && (!action || e.action === action)).slice(0, limit);
    return { items, next_after_id: items.length === limit ? items.at(-1)!.id : null };
  });
}

const firstColumn = () =>
  screen
    .getAllByRole('row')
    .slice(1)
    .map((r) => Number(r.querySelector('td')?.textContent));

describe('audit trail', () => {
  it('lists entries newest first and loads older ones, rendering reasons as text', async () => {
    auditRoute();
    const { container } = renderView(Audit, '/audit', '/audit');
    await screen.findByText(/^\d+ entries, newest first/);
    const ids = firstColumn();
    expect(ids[0]).toBe(250);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(screen.getByText(/approve everything/).textContent).toContain('<img');
    expect(container.querySelector('img')).toBeNull();
    while (screen.queryByRole('button', { name: 'Load older entries' })) {
      await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Load older entries' })));
      await waitFor(() => expect(screen.queryByText('Loading…')).toBeNull());
    }
    expect(firstColumn()).toEqual(log.map((e) => e.id).reverse());
    expect(screen.getByText(/the start of the trail/)).toBeTruthy();
  });

  it('filters by action on the server and by actor on the entries read, linking case targets', async () => {
    const server = auditRoute();
    renderView(Audit, '/audit', '/audit');
    await screen.findByText(/^\d+ entries, newest first/);
    fireEvent.change(screen.getByLabelText('Action'), { target: { value: 'case.update' } });
    fireEvent.change(screen.getByLabelText('Actor'), { target: { value: 'ALI' } });
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Filter' })));
    await screen.findByText('25 entries, newest first — the start of the trail.');
    expect(
      server.calls
        .filter((c) => c.path === '/audit')
        .at(-1)!
        .query.get('action'),
    ).toBe('case.update');
    const rows = screen.getAllByRole('row').slice(1);
    expect(rows.every((r) => r.textContent?.includes('alice'))).toBe(true);
    expect(within(rows[0]!).getByRole('link', { name: CASE }).getAttribute('href')).toBe(`/cases/${CASE}`);
  });

  it('asks nothing with a key that is not admin', async () => {
    const server = fakeApi(['read', 'analyst']);
    renderView(Audit, '/audit', '/audit');
    expect((await screen.findByRole('note')).textContent).toContain('admin key');
    expect(server.calls.some((c) => c.path === '/audit')).toBe(false);
  });
});
