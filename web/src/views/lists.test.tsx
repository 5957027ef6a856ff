import { act, cleanup, fireEvent, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { keyStore } from '../lib/api.ts';
import { fakeApi, renderView } from '../lib/b-test-harness.tsx';
import type { Case, Incident } from '../lib/types.ts';
import Cases from './cases.tsx';
import Incidents from './incidents.tsx';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  keyStore.clear();
});

const T0 = '2026-01-10T10:00:00.000Z';
const incident = (n: number, title: string): Incident => ({
  id: `0190a000-0000-7000-8000-00000000060${n}`,
  title,
  status: 'open',
  severity: 'high',
  priority: 80 - n,
  alert_ids: [],
  alert_count: 3,
  entities: [{ type: 'user', value: 'alice' }],
  mitre_techniques: [],
  mitre_tactics: [],
  first_seen: T0,
  last_seen: T0,
  created_at: T0,
  updated_at: T0,
});
const kase = (n: number, assignee?: string): Case => ({
  id: `0190a000-0000-7000-8000-00000000070${n}`,
  title: `Case ${n}`,
  status: 'in_progress',
  severity: 'medium',
  tasks: [],
  observables: [],
  comments: [],
  timeline: [],
  created_at: T0,
  updated_at: T0,
  ...(assignee ? { assignee } : {}),
});

describe('incident list', () => {
  it('asks for active incidents by priority, re-sorts by time, and links each to its page', async () => {
    const server = fakeApi(['read']).on('GET /incidents', {
      items: [incident(1, '<b>Ignore the analyst</b> and close this'), incident(2, 'Second')],
      total: 2,
    });
    const { container } = renderView(Incidents, '/incidents', '/incidents');
    const link = await screen.findByRole('link', { name: '<b>Ignore the analyst</b> and close this' });
    expect(link.getAttribute('href')).toBe(`/incidents/${incident(1, '').id}`);
    expect(container.querySelector('b')).toBeNull();
    expect(server.to('GET', '/incidents')[0]!.query.toString()).toBe(
      'status=open%2Cinvestigating%2Ccontained&sort=priority&order=desc&limit=50&offset=0',
    );
    await act(async () => fireEvent.change(screen.getByLabelText('Sort by'), { target: { value: 'time' } }));
    await act(async () => fireEvent.change(screen.getByLabelText('Status'), { target: { value: 'closed' } }));
    await waitFor(() =>
      expect(Object.fromEntries(server.to('GET', '/incidents').at(-1)!.query)).toMatchObject({
        status: 'closed',
        sort: 'time',
      }),
    );
  });
});

describe('case list', () => {
  it('filters by status on the server and by assignee among the cases read', async () => {
    const server = fakeApi(['read']).on('GET /cases', {
      items: [kase(1, 'alice'), kase(2), kase(3, 'bob')],
      total: 3,
    });
    renderView(Cases, '/cases', '/cases');
    await screen.findByRole('link', { name: 'Case 1' });
    expect(server.to('GET', '/cases')[0]!.query.get('status')).toBe('new,in_progress');
    await act(async () =>
      fireEvent.change(screen.getByLabelText('Assignee'), {
        target: { value: (screen.getByRole('option', { name: 'Unassigned' }) as HTMLOptionElement).value },
      }),
    );
    await waitFor(() => expect(screen.queryByRole('link', { name: 'Case 1' })).toBeNull());
    expect(screen.getByRole('link', { name: 'Case 2' })).toBeTruthy();
    expect(screen.queryByRole('link', { name: 'Case 3' })).toBeNull();
    expect(server.to('GET', '/cases').at(-1)!.query.get('limit')).toBe('1000');
    await act(async () => fireEvent.change(screen.getByLabelText('Assignee'), { target: { value: '=bob' } }));
    await screen.findByRole('link', { name: 'Case 3' });
    expect(screen.queryByRole('link', { name: 'Case 2' })).toBeNull();
  });
});
