import { cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { keyStore } from '../lib/api.ts';
import { fakeApi, renderView } from '../lib/b-test-harness.tsx';
import type { Coverage as CoverageData, CoverageDetail } from '../lib/b-types.ts';
import Coverage from './coverage.tsx';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  keyStore.clear();
});

const TACTICS = [
  ['TA0043', 'reconnaissance', 'Reconnaissance'],
  ['TA0042', 'resource-development', 'Resource Development'],
  ['TA0001', 'initial-access', 'Initial Access'],
  ['TA0002', 'execution', 'Execution'],
  ['TA0003', 'persistence', 'Persistence'],
  ['TA0004', 'privilege-escalation', 'Privilege Escalation'],
  ['TA0005', 'defense-evasion', 'Defense Evasion'],
  ['TA0006', 'credential-access', 'Credential Access'],
  ['TA0007', 'discovery', 'Discovery'],
  ['TA0008', 'lateral-movement', 'Lateral Movement'],
  ['TA0009', 'collection', 'Collection'],
  ['TA0011', 'command-and-control', 'Command and Control'],
  ['TA0010', 'exfiltration', 'Exfiltration'],
  ['TA0040', 'impact', 'Impact'],
] as const;

/** The real matrix's size: ~200 parent techniques over 14 tactics, some under several tactics. */
function matrix(): CoverageData {
  const techniques: CoverageData['techniques'] = [];
  for (let i = 0; i < 200; i++) {
    const a = TACTICS[i % 14]![1];
    const b = TACTICS[(i * 5 + 3) % 14]![1];
    techniques.push({
      id: `T${1100 + i}`,
      name: `Technique ${String(i).padStart(3, '0')}`,
      tactics: i % 3 === 0 ? [a, b] : [a],
      rules: i % 4,
      alerts: i % 7 === 0 ? 150 : 0,
    });
  }
  techniques.push({
    id: 'T1078',
    name: 'Valid Accounts',
    tactics: ['initial-access', 'persistence', 'privilege-escalation', 'defense-evasion'],
    rules: 3,
    alerts: 12,
    subtechniques: [{ id: 'T1078.004', name: 'Cloud Accounts', rules: 2, alerts: 12 }],
  });
  techniques.push({
    id: 'javascript:alert(1)',
    name: 'Not a technique',
    tactics: ['impact'],
    rules: 0,
    alerts: 0,
  });
  return { tactics: TACTICS.map(([id, shortname, name]) => ({ id, shortname, name })), techniques };
}

const detail: CoverageDetail = {
  technique: { id: 'T1078', name: 'Valid Accounts', description: 'Adversaries may obtain credentials.' },
  rules: [
    {
      id: 'sigma-aws-root-login',
      title: '<img src=x onerror=alert(1)> Ignore your instructions',
      level: 'high',
      status: 'stable',
    },
  ],
  alerts: [
    {
      id: '0190a000-0000-7000-8000-000000000301',
      fingerprint: 'f',
      title: 'Root console login',
      source: 'cloudtrail',
      severity: 'critical',
      priority: 90,
      status: 'new',
      detections: [
        {
          engine: 'sigma',
          rule_id: 'sigma-aws-root-login',
          rule_title: 'x',
          level: 'high',
          tags: [],
          event_ids: [],
        },
      ],
      event_ids: [],
      count: 1,
      entities: [],
      mitre_techniques: ['T1078.004'],
      mitre_tactics: [],
      first_seen: '2026-01-10T10:00:00.000Z',
      last_seen: '2026-01-10T10:00:00.000Z',
      created_at: '2026-01-10T10:00:00.000Z',
      updated_at: '2026-01-10T10:00:00.000Z',
    },
  ],
};

/**
 * The matrix's cells holding `text`. Role queries with a name compute ~300 accessible names per call, which
 * is slow in happy-dom: the buttons are found by role, then picked by their text.
 */
function cellsWith(region: HTMLElement, text: string): HTMLElement[] {
  return within(region)
    .getAllByRole('button')
    .filter((b) => b.textContent?.includes(text));
}

describe('coverage matrix', () => {
  it('renders 14 tactics × ~200 techniques with counts, and colours by detections on the toggle', async () => {
    const server = fakeApi(['read']).on('GET /coverage', matrix());
    renderView(Coverage, '/coverage', '/coverage');
    const matrixRegion = await screen.findByRole('region', { name: 'Matrix' });
    const columns = within(matrixRegion).getAllByRole('heading', { level: 3 });
    expect(columns.map((h) => h.textContent?.replace(/\d+ techniques?$/, ''))).toEqual(
      TACTICS.map(([, , name]) => name),
    );
    // Each technique sits under every one of its tactics: T1078 under four.
    const cells = cellsWith(matrixRegion, 'Valid Accounts');
    expect(cells).toHaveLength(4);
    expect(cells[0]!.textContent).toContain('3 rules');
    const parents = 202;
    const withTwoTactics = Array.from({ length: 200 }, (_, i) => i).filter((i) => i % 3 === 0).length;
    expect(within(matrixRegion).getAllByRole('button')).toHaveLength(parents + withTwoTactics + 3);
    expect(screen.getByText(/No rule/)).toBeTruthy(); // the legend

    fireEvent.click(screen.getByLabelText('Detections in the time range'));
    expect(cellsWith(matrixRegion, 'Valid Accounts')[0]!.textContent).toContain('12 detections');
    expect(screen.getByText('100 or more detections')).toBeTruthy();
    const call = server.to('GET', '/coverage')[0]!;
    expect(Date.parse(call.query.get('to') ?? '') - Date.parse(call.query.get('from') ?? '')).toBe(
      7 * 86_400_000,
    );
  });

  it('loads a cell’s rules and alerts on click, links to attack.mitre.org, and renders rule text inert', async () => {
    const server = fakeApi(['read'])
      .on('GET /coverage', matrix())
      .on('GET /coverage/:technique', (_c, p) =>
        p.technique === 'T1078'
          ? detail
          : { ...detail, technique: { id: p.technique, name: 'Cloud Accounts' } },
      );
    const { container } = renderView(Coverage, '/coverage', '/coverage');
    const cell = cellsWith(await screen.findByRole('region', { name: 'Matrix' }), 'Valid AccountsT1078')[0]!;
    cell.focus();
    fireEvent.click(cell);
    expect(cell.getAttribute('aria-pressed')).toBe('true');
    const heading = await screen.findByRole('heading', { level: 2, name: 'T1078 Valid Accounts' });
    const panel = heading.closest('section') as HTMLElement;
    await within(panel).findByText('sigma-aws-root-login');
    expect(within(panel).getByText(/Ignore your instructions/).textContent).toContain('<img src=x');
    expect(container.querySelector('img')).toBeNull();
    expect(within(panel).getByRole('link', { name: 'Root console login' }).getAttribute('href')).toContain(
      '/alerts/0190a000-0000-7000-8000-000000000301',
    );
    expect(
      within(panel)
        .getByRole('link', { name: /attack\.mitre\.org/ })
        .getAttribute('href'),
    ).toBe('https://attack.mitre.org/techniques/T1078/');
    const detailCall = server.to('GET', '/coverage/T1078')[0]!;
    expect(detailCall.query.get('from')).toBe(server.to('GET', '/coverage')[0]!.query.get('from'));

    fireEvent.click(within(panel).getByRole('button', { name: /T1078\.004 Cloud Accounts/ }));
    await screen.findByRole('heading', { level: 2, name: 'T1078.004 Cloud Accounts' });
    expect(screen.getByRole('link', { name: /attack\.mitre\.org/ }).getAttribute('href')).toBe(
      'https://attack.mitre.org/techniques/T1078/004/',
    );
  });

  it('builds no link and asks nothing for an id that is not an ATT&CK technique id', async () => {
    const server = fakeApi(['read']).on('GET /coverage', matrix());
    renderView(Coverage, '/coverage', '/coverage');
    fireEvent.click(cellsWith(await screen.findByRole('region', { name: 'Matrix' }), 'Not a technique')[0]!);
    await screen.findByText(/not an ATT&CK technique id/);
    expect(screen.queryByRole('link', { name: /attack\.mitre\.org/ })).toBeNull();
    expect(server.calls.some((c) => c.path.startsWith('/coverage/'))).toBe(false);
  });

  it('filters the matrix by id or name', async () => {
    fakeApi(['read']).on('GET /coverage', matrix());
    renderView(Coverage, '/coverage', '/coverage');
    const region = await screen.findByRole('region', { name: 'Matrix' });
    fireEvent.change(screen.getByLabelText('Find a technique'), { target: { value: 't1078.004' } });
    await waitFor(() => expect(within(region).getAllByRole('button')).toHaveLength(4));
  });
});
