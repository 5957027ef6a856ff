/**
 * The analyst console end to end: a real `aisoc demo` server fed with the demo scenario, Debian's
 * Chromium, and what an analyst and two responders do in it. Every step waits on what the page shows.
 * Screenshots of the main views go to a temporary directory, or to docs/console/ (the README shows one)
 * with AISOC_UPDATE_SCREENSHOTS=1, so a test run does not rewrite tracked files.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectErrors, launchChromium, seriousAxeViolations, signedInContext } from '../helpers/browser.ts';
import { REPO } from '../helpers/process.ts';
import { call, type DemoServer, startDemoServer } from './demo-server.ts';

const UPDATE_SHOTS = process.env.AISOC_UPDATE_SCREENSHOTS === '1';
const SHOTS = UPDATE_SHOTS ? join(REPO, 'docs', 'console') : mkdtempSync(join(tmpdir(), 'aisoc-e2e-shots-'));
/**
 * Why the first responder asks to block an address. The demo's playbook already asks to block the brute-force
 * source, and an equal request is the same request (one idempotency key), so this one names another address.
 */
const REASON = 'The SSH brute force on bastion-01 comes from this address, asked in the console test';

/** The page's globals the test reads (this Node project has no DOM types). */
interface PageGlobals {
  sessionStorage: Storage;
  localStorage: Storage;
  document: { documentElement: { scrollWidth: number; clientWidth: number } };
}
interface Storage {
  getItem(key: string): string | null;
}

interface Key {
  name: string;
  key: string;
}

let server: DemoServer;
let browser: Browser;
let dataDir: string;
const keys: Record<'one' | 'two' | 'viewer', Key> = {} as Record<'one' | 'two' | 'viewer', Key>;
const errors: string[] = [];
let pendingActionId: string;
let newIncidentId: string;

async function makeKey(name: string, scopes: string[]): Promise<Key> {
  const r = await call<{ key: string }>(server, server.adminKey, 'POST', '/keys', { name, scopes });
  return { name, key: r.key };
}

async function open(ctx: BrowserContext, hash: string): Promise<Page> {
  const page = await ctx.newPage();
  errors.push(...collectErrors(page));
  await page.goto(`${server.url}/#${hash}`);
  return page;
}

async function expectAccessible(page: Page, view: string): Promise<void> {
  const found = await seriousAxeViolations(page);
  expect(found, `${view}: ${JSON.stringify(found, null, 1)}`).toEqual([]);
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'aisoc-e2e-'));
  mkdirSync(SHOTS, { recursive: true });
  server = await startDemoServer(dataDir);
  browser = await launchChromium();
  keys.one = await makeKey('responder-one', ['read', 'analyst', 'responder']);
  keys.two = await makeKey('responder-two', ['read', 'responder']);
  keys.viewer = await makeKey('viewer', ['read']);

  // A containment action the first responder asks for, which a second person must approve (four eyes).
  const action = await call<{ id: string; status: string; requested_by: string }>(
    server,
    keys.one.key,
    'POST',
    '/actions',
    {
      type: 'local.block_ip',
      input: { ip: '198.51.100.77' },
      reason: REASON,
      require_approval: true,
    },
  );
  expect(action).toMatchObject({ status: 'pending_approval', requested_by: 'responder-one' });
  pendingActionId = action.id;

  // A second, quieter incident that no playbook opens a case for: two web attacks on another host.
  const alerts = ['31103', '31106'].map((rule, i) =>
    JSON.stringify({
      timestamp: new Date(Date.now() - (2 - i) * 60_000).toISOString().replace('Z', '+0000'),
      rule: { level: 8 + i, description: `Web attack probe ${rule}`, id: rule, groups: ['web', 'attack'] },
      agent: { id: '007', name: 'web-07', ip: '10.0.2.20' },
      manager: { name: 'wazuh-manager' },
      id: `e2e.${rule}`,
      full_log: `198.51.100.7 - - "GET /index.php?id=1' OR '1'='1 HTTP/1.1" 200 ${rule}`,
      data: { srcip: '198.51.100.7', url: "/index.php?id=1' OR '1'='1" },
      location: '/var/log/nginx/access.log',
    }),
  );
  const res = await fetch(`${server.url}/ingest/wazuh`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/x-ndjson' },
    body: alerts.join('\n'),
  });
  expect(res.status).toBe(202);
  for (;;) {
    const list = await call<{
      items: Array<{ id: string; case_id?: string; entities: Array<{ value: string }> }>;
    }>(server, server.adminKey, 'GET', '/incidents?limit=100');
    const found = list.items.find((i) => !i.case_id && i.entities.some((e) => e.value === '198.51.100.7'));
    if (found) {
      newIncidentId = found.id;
      break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  if (!UPDATE_SHOTS) rmSync(SHOTS, { recursive: true, force: true });
});

describe('the analyst console', () => {
  it('signs in with a key kept in sessionStorage only, and signs out forgetting it', async () => {
    const ctx = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 800 } });
    const page = await open(ctx, '/');
    await page.getByLabel('API key').fill('not-a-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('does not know');
    await expectAccessible(page, 'sign-in');

    await page.getByLabel('API key').fill(keys.one.key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    expect(page.url()).not.toContain(keys.one.key);
    expect(
      await page.evaluate(() => JSON.stringify((globalThis as unknown as PageGlobals).sessionStorage)),
    ).toContain(keys.one.key);
    expect(
      await page.evaluate(() => JSON.stringify((globalThis as unknown as PageGlobals).localStorage)),
    ).not.toContain(keys.one.key);
    await page.getByRole('heading', { name: 'Alerts by severity' }).waitFor();
    await expectAccessible(page, 'overview');
    await page.screenshot({ path: join(SHOTS, 'overview.png') });

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').waitFor();
    expect(
      await page.evaluate(() => (globalThis as unknown as PageGlobals).sessionStorage.getItem('aisoc.key')),
    ).toBeNull();
    await ctx.close();
  });

  it('goes from the queue to an alert, its incident, the evidence and the cited event', async () => {
    const ctx = await signedInContext(browser, server.url, keys.one.key);
    const page = await open(ctx, '/alerts');
    const rows = page.locator('[data-alert-id]');
    await rows.first().waitFor();
    await expectAccessible(page, 'alert queue');
    await page.screenshot({ path: join(SHOTS, 'queue.png') });

    // The keyboard: j moves the selection, Enter opens the selected alert.
    await page.locator('body').press('j');
    await page.locator('body').press('k');
    const top = await rows.first().getAttribute('data-alert-id');
    await page.locator('body').press('Enter');
    await page.waitForURL((u) => u.hash.startsWith(`#/alerts/${top}`));
    await page.getByRole('heading', { level: 1 }).waitFor();
    await expectAccessible(page, 'alert detail');

    await page.getByRole('link', { name: 'its incident' }).click();
    await page.waitForURL((u) => u.hash.startsWith('#/incidents/'));
    // The incident's verdict: analysed again by the analyst, with evidence citing events.
    await page.getByRole('button', { name: /Analy[sz]e again/ }).click();
    const cite = page.getByRole('button', { name: /^Show event/ }).first();
    await cite.waitFor();
    await cite.click();
    await page.locator('mark').first().waitFor();
    await expectAccessible(page, 'incident detail');
    await page.screenshot({ path: join(SHOTS, 'incident.png'), fullPage: true });

    await page
      .getByRole('link', { name: /^open event/ })
      .first()
      .click();
    await page.waitForURL((u) => u.hash.startsWith('#/events/'));
    const eventId = new URL(page.url()).hash.split('/')[2]?.split('?')[0];
    await page.getByText(`"id": "${eventId}"`).first().waitFor();
    await ctx.close();
  });

  it('creates a case for an incident', async () => {
    const ctx = await signedInContext(browser, server.url, keys.one.key);
    const page = await open(ctx, `/incidents/${newIncidentId}`);
    await page.getByRole('button', { name: 'Create a case' }).click();
    await page.waitForURL((u) => u.hash.startsWith('#/cases/'));
    await page.getByRole('heading', { name: 'Status and assignee' }).waitFor();
    await expectAccessible(page, 'case detail');
    await page.screenshot({ path: join(SHOTS, 'case.png'), fullPage: true });
    const incident = await call<{ case_id?: string }>(
      server,
      server.adminKey,
      'GET',
      `/incidents/${newIncidentId}`,
    );
    expect(page.url()).toContain(`#/cases/${incident.case_id}`);
    await ctx.close();
  });

  it('lets a second responder approve what the first asked for, and records it in the audit trail', async () => {
    const mine = await signedInContext(browser, server.url, keys.one.key);
    const page = await open(mine, '/approvals');
    const card = page
      .getByRole('article')
      .filter({ hasText: 'local.block_ip' })
      // The demo's playbook asks to block the same address; this is the request made above.
      .filter({ hasText: REASON })
      .first();
    await card.getByText('You asked for this: another responder must approve').waitFor();
    expect(await card.getByRole('button', { name: 'Approve' }).count()).toBe(0);
    // What it will do: the dry run made when it was asked.
    await card.getByText(/Would add 198\.51\.100\.77 to nftables set/).waitFor();
    await expectAccessible(page, 'approvals');
    await page.screenshot({ path: join(SHOTS, 'approvals.png'), fullPage: true });
    await mine.close();

    const other = await signedInContext(browser, server.url, keys.two.key);
    const p2 = await open(other, '/approvals');
    const card2 = p2
      .getByRole('article')
      .filter({ hasText: 'local.block_ip' })
      // The demo's playbook asks to block the same address; this is the request made above.
      .filter({ hasText: REASON })
      .first();
    await card2.getByRole('button', { name: 'Approve' }).click();
    await expect
      .poll(
        async () =>
          (await call<{ status: string }>(server, server.adminKey, 'GET', `/actions/${pendingActionId}`))
            .status,
      )
      .not.toBe('pending_approval');
    await other.close();

    // The audit trail (admin scope) shows the approval by the second responder.
    const admin = await signedInContext(browser, server.url, server.adminKey);
    const audit = await open(admin, '/audit');
    await audit.getByRole('heading', { name: 'Audit trail' }).waitFor();
    const row = audit
      .getByRole('row')
      .filter({ hasText: 'responder-two' })
      .filter({ hasText: /approv/i })
      .first();
    await row.waitFor();
    await expectAccessible(audit, 'audit');
    await admin.close();
  });

  it('shows a read-only key no approve, acknowledge or case buttons', async () => {
    // A fresh pending request so there is something to approve.
    await call(server, keys.one.key, 'POST', '/actions', {
      type: 'local.block_ip',
      input: { ip: '203.0.113.99' },
      reason: 'A second address from the same campaign',
      require_approval: true,
    });
    const ctx = await signedInContext(browser, server.url, keys.viewer.key);
    const page = await open(ctx, '/approvals');
    await page.getByRole('article').filter({ hasText: '203.0.113.99' }).first().waitFor();
    expect(await page.getByRole('button', { name: 'Approve' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Deny' }).count()).toBe(0);
    const queue = await open(ctx, '/alerts');
    await queue.locator('[data-alert-id]').first().waitFor();
    expect(await queue.getByRole('button', { name: 'Acknowledge selected' }).count()).toBe(0);
    const inc = await open(ctx, `/incidents/${newIncidentId}`);
    await inc.getByRole('heading', { level: 1 }).waitFor();
    expect(await inc.getByRole('button', { name: 'Create a case' }).count()).toBe(0);
    await ctx.close();
  });

  it('works on a 390-pixel phone and in the dark theme, with ATT&CK coverage', async () => {
    const phone = await signedInContext(browser, server.url, keys.two.key, {
      viewport: { width: 390, height: 844 },
      colorScheme: 'dark',
    });
    for (const view of ['/alerts', '/approvals']) {
      const page = await open(phone, view);
      await page.getByRole('heading', { level: 1 }).first().waitFor();
      if (view === '/alerts') await page.locator('[data-alert-id]').first().waitFor();
      const overflow = await page.evaluate(
        () =>
          (globalThis as unknown as PageGlobals).document.documentElement.scrollWidth -
          (globalThis as unknown as PageGlobals).document.documentElement.clientWidth,
      );
      expect(overflow, `${view} scrolls sideways on a phone`).toBeLessThanOrEqual(0);
      await expectAccessible(page, `${view} on a phone, dark`);
      await page.screenshot({ path: join(SHOTS, `phone${view.replace('/', '-')}.png`) });
    }
    const cov = await open(phone, '/coverage');
    await cov.getByRole('heading', { name: 'ATT&CK coverage' }).waitFor();
    await phone.close();

    const desk = await signedInContext(browser, server.url, keys.two.key);
    const page = await open(desk, '/coverage');
    await page.getByRole('heading', { name: 'ATT&CK coverage' }).waitFor();
    await expectAccessible(page, 'coverage');
    await page.screenshot({ path: join(SHOTS, 'coverage.png') });
    await desk.close();
  });

  it('logged no console errors in any view', () => {
    expect(errors).toEqual([]);
  });
});
