import { defaultParseSearch, defaultStringifySearch } from '@tanstack/react-router';
import { act, cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type AlertFilters, filtersFromSearch, NO_FILTERS, searchFromFilters } from '../lib/alert-filters.ts';
import { keyStore } from '../lib/api.ts';
import type { Scope } from '../lib/auth.tsx';
import type { Alert } from '../lib/types.ts';
import { makeAlert } from '../testing/fixtures-a.ts';
import { fakeApi, fakeLayout, renderRoute, TEST_KEY } from '../testing/harness-a.tsx';

let restoreLayout: () => void;
beforeEach(() => {
  restoreLayout = fakeLayout();
});
afterEach(() => {
  cleanup();
  restoreLayout();
  vi.unstubAllGlobals();
  keyStore.clear();
});

/** A queue of `total` alerts served page by page, as GET /alerts does. */
function queue(total: number, scopes: Scope[], patch?: (a: Alert) => Alert) {
  const store = new Map<number, Alert>();
  const at = (i: number) => store.get(i) ?? makeAlert(i);
  const api = fakeApi(
    {
      'GET /alerts': (c) => {
        const offset = Number(c.query.get('offset'));
        const limit = Number(c.query.get('limit'));
        const items = [];
        for (let i = offset; i < Math.min(total, offset + limit); i++) items.push(at(i));
        return { items, total };
      },
      'PATCH /alerts/:id': (c, p) => {
        const i = [...Array(total).keys()].find((n) => makeAlert(n).id === p.id) ?? -1;
        const updated = { ...at(i), status: (c.body as { status: Alert['status'] }).status };
        store.set(i, patch ? patch(updated) : updated);
        return store.get(i);
      },
    },
    { name: 'alice', scopes },
  );
  return api;
}

const rowOf = (title: string) => screen.getByText(title).closest('tr') as HTMLTableRowElement;
const key = (k: string, target: EventTarget = document.body) =>
  act(() => {
    target.dispatchEvent(new KeyboardEvent('keydown', { key: k, bubbles: true, cancelable: true }));
  });

describe('alert queue keys', () => {
  it('j/k move the selection, Enter opens it, and keys typed into a field are left alone', async () => {
    const api = queue(5, ['read']);
    const { router } = renderRoute('/alerts');
    await screen.findByText('Alert number 0');
    expect(rowOf('Alert number 0').getAttribute('aria-current')).toBe('true');

    await key('j');
    await key('j');
    expect(rowOf('Alert number 2').getAttribute('aria-current')).toBe('true');
    expect(rowOf('Alert number 0').getAttribute('aria-current')).toBeNull();
    await key('k');
    expect(rowOf('Alert number 1').getAttribute('aria-current')).toBe('true');

    // Typing "j" in a filter field is text, not a shortcut.
    const entity = screen.getByLabelText('Entity');
    await key('j', entity);
    expect(rowOf('Alert number 1').getAttribute('aria-current')).toBe('true');
    await key('Enter', entity);
    expect(router.state.location.pathname).toBe('/alerts');

    // k at the top and j at the bottom stay inside the list.
    for (let i = 0; i < 8; i++) await key('j');
    expect(rowOf('Alert number 4').getAttribute('aria-current')).toBe('true');

    await key('Enter');
    await waitFor(() => expect(router.state.location.pathname).toBe(`/alerts/${makeAlert(4).id}`));
    // Reading the queue never sent a change.
    expect(api.apiCalls().every((c) => c.method === 'GET')).toBe(true);
  });

  it('a acknowledges the selected alert with an analyst key and updates its row in place', async () => {
    const api = queue(3, ['analyst', 'read']);
    renderRoute('/alerts');
    await screen.findByText('Alert number 0');
    await key('j');
    await key('a');
    await waitFor(() => expect(within(rowOf('Alert number 1')).getByText('acknowledged')).toBeTruthy());
    const patches = api.calls.filter((c) => c.method === 'PATCH');
    expect(patches).toHaveLength(1);
    expect(patches[0]?.path).toBe(`/alerts/${makeAlert(1).id}`);
    expect(patches[0]?.body).toEqual({ status: 'acknowledged' });
    expect(within(rowOf('Alert number 0')).getByText('new')).toBeTruthy();
    expect((await screen.findByRole('status')).textContent).toContain('Acknowledged: Alert number 1');
    // `a` in a field does nothing.
    await key('a', screen.getByLabelText('Rule id'));
    expect(api.calls.filter((c) => c.method === 'PATCH')).toHaveLength(1);
  });

  it('without the analyst scope, `a` sends nothing and there is no acknowledge control', async () => {
    const api = queue(3, ['read']);
    renderRoute('/alerts');
    await screen.findByText('Alert number 0');
    await key('a');
    await key('j');
    await key('a');
    expect(api.calls.some((c) => c.method === 'PATCH')).toBe(false);
    expect(screen.queryByRole('button', { name: /acknowledge/i })).toBeNull();
    expect(screen.getByText(/Keys:/).textContent).not.toContain('acknowledges');
  });
});

describe('alert queue paging and live updates', () => {
  it('fetches only the pages under the visible rows of a 100k queue, and keeps the total', async () => {
    const api = queue(100_000, ['read']);
    const { container } = renderRoute('/alerts');
    await screen.findByText('Alert number 0');
    expect(screen.getByText(/100,000 alerts/)).toBeTruthy();
    const offsets = () => api.apiCalls().map((c) => Number(c.query.get('offset')));
    expect(offsets()).toEqual([0]);
    // Few rows are in the DOM, whatever the total.
    expect(container.querySelectorAll('tbody tr').length).toBeLessThan(60);

    const scroller = container.querySelector('.queue-scroll') as HTMLElement;
    await act(async () => {
      scroller.scrollTop = 50_000 * 44;
      scroller.dispatchEvent(new Event('scroll'));
    });
    await screen.findByText('Alert number 50000');
    expect(offsets()).toContain(50_000);
    expect(offsets().every((o) => o === 0 || (o >= 49_900 && o <= 50_100))).toBe(true);
    expect(container.querySelector('table')?.getAttribute('aria-rowcount')).toBe('100001');
  });

  it('updates rows in place from the stream and offers new alerts instead of shifting the list', async () => {
    const api = queue(3, ['read']);
    renderRoute('/alerts');
    await screen.findByText('Alert number 0');
    await waitFor(() => expect(api.streamCount()).toBe(1));
    const stream = api.calls.find((c) => c.path === '/stream');
    expect(stream?.headers.authorization).toBe(`Bearer ${TEST_KEY}`);
    expect(stream?.url).not.toContain(TEST_KEY);

    const a1 = makeAlert(1);
    await act(async () =>
      api.push(
        'alert',
        { ...a1, change: 'updated', status: 'closed', title: 'Renamed one', priority: 12 },
        'c1',
      ),
    );
    await screen.findByText('Renamed one');
    expect(within(rowOf('Renamed one')).getByText('closed')).toBeTruthy();

    const gets = api.apiCalls().length;
    await act(async () =>
      api.push('alert', { ...makeAlert(7), change: 'created', status: 'new', title: 'Brand new' }, 'c2'),
    );
    const more = await screen.findByRole('button', { name: '1 new alert: show' });
    expect(screen.queryByText('Brand new')).toBeNull();
    expect(api.apiCalls().length).toBe(gets);
    fireEvent.click(more);
    await waitFor(() => expect(api.apiCalls().length).toBe(gets + 1));
    expect(screen.queryByRole('button', { name: /new alert/ })).toBeNull();
  });

  it('counts new alerts as an upper bound under filters the stream cannot check, and skips other severities', async () => {
    const api = queue(3, ['read']);
    renderRoute('/alerts?severity=high&source=zeek');
    await screen.findByText('Alert number 0');
    await waitFor(() => expect(api.streamCount()).toBe(1));
    await act(async () =>
      api.push('alert', { ...makeAlert(8), change: 'created', severity: 'low', title: 'Low one' }, 'c3'),
    );
    await act(async () =>
      api.push('alert', { ...makeAlert(9), change: 'created', severity: 'high', title: 'High one' }, 'c4'),
    );
    // The low one cannot match severity=high; the high one may or may not come from zeek.
    expect(await screen.findByRole('button', { name: 'Up to 1 new alert: show' })).toBeTruthy();
  });

  it('stops the stream on unmount', async () => {
    const api = queue(1, ['read']);
    const view = renderRoute('/alerts');
    await screen.findByText('Alert number 0');
    await waitFor(() => expect(api.streamCount()).toBe(1));
    view.unmount();
    expect(api.streamCount()).toBe(0);
  });
});

describe('alert filters in the URL', () => {
  const samples: AlertFilters[] = [
    NO_FILTERS,
    {
      severity: ['critical', 'high'],
      status: ['new', 'in_progress'],
      source: ['cloudtrail', 'suricata'],
      rule: '123',
      technique: ['T1078', 'T1059.001'],
      entity: 'alice&bob=1#x, y@corp.example',
      q: 'true',
      sort: 'time',
      order: 'asc',
    },
    { ...NO_FILTERS, rule: 'null', entity: '{"a":1}', q: '1e3' },
  ];

  it('round-trips through the router search string exactly', () => {
    for (const f of samples) {
      const str = defaultStringifySearch(searchFromFilters(f));
      expect(filtersFromSearch(defaultParseSearch(str))).toEqual(f);
    }
    expect(defaultStringifySearch(searchFromFilters(NO_FILTERS))).toBe('');
  });

  it('reads hand-written links and drops values it does not know', () => {
    const f = filtersFromSearch(
      defaultParseSearch('?severity=HIGH,bogus&status=closed&rule=42&technique=t1078&sort=sideways&order=up'),
    );
    expect(f).toEqual({
      ...NO_FILTERS,
      severity: ['high'],
      status: ['closed'],
      rule: '42',
      technique: ['T1078'],
    });
  });

  it('asks the server for the filters in the URL and writes changed filters back to it, never the key', async () => {
    const api = queue(2, ['read']);
    const { router } = renderRoute('/alerts?severity=high&entity=alice%40corp.example&technique=T1078');
    await screen.findByText('Alert number 0');
    const first = api.apiCalls()[0];
    expect(first?.query.get('severity')).toBe('high');
    expect(first?.query.get('entity')).toBe('alice@corp.example');
    expect(first?.query.get('technique')).toBe('T1078');
    expect((screen.getByLabelText('high') as HTMLInputElement).checked).toBe(true);
    expect((screen.getByLabelText('Entity') as HTMLInputElement).value).toBe('alice@corp.example');

    fireEvent.click(screen.getByLabelText('critical'));
    await waitFor(() =>
      expect(filtersFromSearch(router.state.location.search).severity).toEqual(['high', 'critical']),
    );
    await waitFor(() => expect(api.apiCalls().at(-1)?.query.get('severity')).toBe('high,critical'));

    // Sorting applies at once, and keeps text typed but not yet applied.
    fireEvent.change(screen.getByLabelText('Entity'), { target: { value: '10.0.0.5' } });
    fireEvent.change(screen.getByLabelText('Sort by'), { target: { value: 'time:desc' } });
    await waitFor(() => expect(filtersFromSearch(router.state.location.search).sort).toBe('time'));
    expect((screen.getByLabelText('Entity') as HTMLInputElement).value).toBe('10.0.0.5');
    fireEvent.change(screen.getByLabelText('Rule id'), { target: { value: '123' } });
    fireEvent.submit(screen.getByRole('form', { name: 'Alert filters' }));
    await waitFor(() =>
      expect(filtersFromSearch(router.state.location.search)).toMatchObject({
        entity: '10.0.0.5',
        rule: '123',
        sort: 'time',
        severity: ['high', 'critical'],
      }),
    );
    await waitFor(() => expect(api.apiCalls().at(-1)?.query.get('rule')).toBe('123'));
    expect(router.state.location.href).not.toContain(TEST_KEY);
    expect(api.apiCalls().every((c) => !c.url.includes(TEST_KEY))).toBe(true);

    fireEvent.click(screen.getByRole('button', { name: 'Clear' }));
    await waitFor(() => expect(router.state.location.searchStr).toBe(''));
  });
});
