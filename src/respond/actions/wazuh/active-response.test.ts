import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AisocError } from '../../../errors.ts';
import { silentLogger } from '../../../telemetry/logger.ts';
import { unblockableInputs } from '../testing/addresses.ts';
import { FAST_RETRY } from '../testing/aws.ts';
import { describeActionConformance } from '../testing/conformance.ts';
import { json, type Receiver, startReceiver } from '../testing/servers.ts';
import { testCert } from '../testing/tls.ts';
import { wazuhActiveResponseFactory } from './active-response.ts';

const USER = 'wazuh-wui';
const PASSWORD = 'Wazuh-API-Pa55word.aisoc';
const env = { AISOC_WAZUH_USER: USER, AISOC_WAZUH_PASSWORD: PASSWORD };

interface Agent {
  id: string;
  name: string;
  status: 'active' | 'disconnected';
  blocked: Set<string>;
}

/**
 * A Wazuh server API: basic-auth login for a JWT, the agents listing, and
 * PUT /active-response applying firewall-drop (and a custom undo script)
 * to each agent's blocked set, with Wazuh's per-agent failed_items.
 */
async function wazuh(
  state: { failing: boolean; expireNextToken?: boolean },
  tls?: { key: string; cert: string },
) {
  const agents = new Map<string, Agent>([
    ['001', { id: '001', name: 'web-1', status: 'active', blocked: new Set() }],
    ['002', { id: '002', name: 'db-1', status: 'active', blocked: new Set() }],
    ['003', { id: '003', name: 'old-1', status: 'disconnected', blocked: new Set() }],
  ]);
  let issued = 0;
  const valid = new Set<string>();
  const server = await startReceiver((req, res) => {
    const url = new URL(req.path, 'http://x');
    if (state.failing)
      return json(res, 500, { title: 'Internal Error', detail: `failed: ${req.headers.authorization}` });
    if (req.method === 'POST' && url.pathname === '/security/user/authenticate') {
      const expected = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
      if (req.headers.authorization !== expected)
        return json(res, 401, { title: 'Unauthorized', detail: 'Invalid credentials' });
      const token = `eyJhbGciOiJIUzI1NiJ9.aisoc-${++issued}.sig`;
      if (state.expireNextToken) state.expireNextToken = false;
      else valid.add(token);
      return json(res, 200, { data: { token }, error: 0 });
    }
    const bearer = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    if (!valid.has(bearer)) return json(res, 401, { title: 'Unauthorized', detail: 'Invalid token' });
    const ids = (url.searchParams.get('agents_list') ?? '').split(',').filter(Boolean);
    if (req.method === 'GET' && url.pathname === '/agents') {
      const items = ids
        .filter((id) => agents.has(id))
        .map((id) => {
          const a = agents.get(id)!;
          return { id: a.id, name: a.name, status: a.status, version: 'Wazuh v4.9.0' };
        });
      return json(res, 200, {
        data: {
          affected_items: items,
          total_affected_items: items.length,
          failed_items: [],
          total_failed_items: 0,
        },
        error: 0,
      });
    }
    if (req.method === 'PUT' && url.pathname === '/active-response') {
      const body = JSON.parse(req.body) as {
        command: string;
        arguments?: string[];
        alert?: { data?: { srcip?: string } };
      };
      const affected: string[] = [];
      const failed: Array<{ error: { code: number; message: string }; id: string[] }> = [];
      for (const id of ids) {
        const a = agents.get(id);
        if (!a) failed.push({ error: { code: 1701, message: 'Agent does not exist' }, id: [id] });
        else if (a.status !== 'active')
          failed.push({
            error: { code: 1707, message: 'Cannot send request, agent is not active' },
            id: [id],
          });
        else {
          const ip = body.alert?.data?.srcip;
          if (body.command === 'firewall-drop' && ip) a.blocked.add(ip);
          if (body.command === '!firewall-undrop.sh' && ip) a.blocked.delete(ip);
          affected.push(id);
        }
      }
      return json(res, 200, {
        data: {
          affected_items: affected,
          total_affected_items: affected.length,
          total_failed_items: failed.length,
          failed_items: failed,
        },
        message: failed.length
          ? 'AR command was not sent to some agents'
          : 'AR command was sent to all agents',
        error: failed.length ? (affected.length ? 2 : 1) : 0,
      });
    }
    json(res, 404, { title: 'Not Found' });
  }, tls);
  return { server, agents };
}

const config = (url: string, extra: Record<string, unknown> = {}) => ({
  url,
  retry: FAST_RETRY,
  allowed_commands: ['firewall-drop', 'restart-wazuh'],
  rollback_commands: { 'firewall-drop': '!firewall-undrop.sh' },
  never_block: ['10.0.0.0/8'],
  ...extra,
});
const INPUT = { agent_ids: ['002', '001'], command: 'firewall-drop', srcip: '203.0.113.7' };

let conformanceUrl = '';
describeActionConformance({
  factory: wazuhActiveResponseFactory,
  get config() {
    return config(conformanceUrl);
  },
  async harness() {
    const state = { failing: false };
    const w = await wazuh(state);
    conformanceUrl = w.server.url;
    return {
      ctx: { env },
      mutations: () => w.server.received.filter((r) => r.method === 'PUT').map((r) => `PUT ${r.path}`),
      calls: () => w.server.received.length,
      state: () => [...w.agents.values()].map((a) => [a.id, [...a.blocked].sort()]),
      fail: () => {
        state.failing = true;
      },
      close: () => w.server.close(),
    };
  },
  validInput: INPUT,
  equivalentInput: {
    agent_ids: ['001', '002', '001'],
    command: 'firewall-drop',
    srcip: '203.0.113.7',
    arguments: [],
  },
  otherInput: { ...INPUT, srcip: '203.0.113.8' },
  badInputs: [
    { input: { ...INPUT, agent_ids: ['all'] }, field: 'agent_ids[0]' },
    { input: { ...INPUT, agent_ids: [] }, field: 'agent_ids' },
    { input: { agent_ids: ['001'], command: 'firewall-drop' }, field: 'srcip' },
    { input: { ...INPUT, command: 'rm -rf /' }, field: 'command' },
    { input: { ...INPUT, arguments: ['a\nb'] }, field: 'arguments[0]' },
    ...unblockableInputs((srcip) => ({ ...INPUT, srcip }), 'srcip'),
  ],
  secrets: [PASSWORD, Buffer.from(`${USER}:${PASSWORD}`).toString('base64')],
});

describe('wazuh.active_response', () => {
  let w: Awaited<ReturnType<typeof wazuh>>;
  let server: Receiver;
  const state: { failing: boolean; expireNextToken?: boolean } = { failing: false };
  beforeEach(async () => {
    state.failing = false;
    w = await wazuh(state);
    server = w.server;
  });
  afterEach(() => server.close());
  const action = (extra: Record<string, unknown> = {}) =>
    wazuhActiveResponseFactory.create(config(server.url, extra), { logger: silentLogger(), env });
  const run = { dryRun: false, idempotencyKey: 'k' };

  it('authenticates with basic auth, then PUTs the command for the listed agents — exactly these requests', async () => {
    const r = await action().execute(INPUT, run);
    expect(r.status).toBe('succeeded');
    expect(server.received.map((x) => [x.method, x.path])).toEqual([
      ['POST', '/security/user/authenticate'],
      ['PUT', '/active-response?agents_list=001,002'],
    ]);
    expect(server.received[0]!.headers.authorization).toBe(
      `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`,
    );
    expect(server.received[1]!.headers.authorization).toBe('Bearer eyJhbGciOiJIUzI1NiJ9.aisoc-1.sig');
    expect(JSON.parse(server.received[1]!.body)).toEqual({
      command: 'firewall-drop',
      arguments: [],
      alert: { data: { srcip: '203.0.113.7' } },
    });
    expect([...w.agents.get('001')!.blocked]).toEqual(['203.0.113.7']);
    expect(r.rollback_data).toEqual({
      agent_ids: ['001', '002'],
      undo_command: '!firewall-undrop.sh',
      arguments: [],
      srcip: '203.0.113.7',
    });
  });

  it('fails typed, naming the agents, when an agent is not active; nothing is hidden as success', async () => {
    const err = await action()
      .execute({ ...INPUT, agent_ids: ['001', '003'] }, run)
      .catch((e: unknown) => e);
    expect((err as AisocError).code).toBe('AISOC_ERR_ACTION_FAILED');
    expect((err as AisocError).details).toMatchObject({
      affected: ['001'],
      failed: [{ agent_id: '003', code: 1707, message: 'Cannot send request, agent is not active' }],
    });
  });

  it('re-authenticates once when the token is refused', async () => {
    state.expireNextToken = true;
    const r = await action().execute(INPUT, run);
    expect(r.status).toBe('succeeded');
    expect(server.received.map((x) => x.method)).toEqual(['POST', 'PUT', 'POST', 'PUT']);
  });

  it('reports bad credentials as AISOC_ERR_ACTION_ACCESS_DENIED without leaking them', async () => {
    const err = await wazuhActiveResponseFactory
      .create(config(server.url), {
        logger: silentLogger(),
        env: { ...env, AISOC_WAZUH_PASSWORD: 'wrong-password' },
      })
      .execute(INPUT, run)
      .catch((e: unknown) => e);
    expect((err as AisocError).code).toBe('AISOC_ERR_ACTION_ACCESS_DENIED');
    expect(JSON.stringify((err as AisocError).toJSON())).not.toContain('wrong-password');
  });

  it('refuses a command outside allowed_commands and an address in never_block, before any request', async () => {
    const a = action();
    const cmd = await a.execute({ agent_ids: ['001'], command: '!wipe.sh' }, run).catch((e: unknown) => e);
    expect((cmd as AisocError).code).toBe('AISOC_ERR_ACTION_POLICY');
    expect((cmd as AisocError).field).toBe('command');
    const ip = await a.execute({ ...INPUT, srcip: '10.1.2.3' }, run).catch((e: unknown) => e);
    expect((ip as AisocError).field).toBe('srcip');
    expect(server.received).toHaveLength(0);
  });

  it('lists the agents it would act on in a dry run, and runs nothing', async () => {
    const r = await action().execute(
      { ...INPUT, agent_ids: ['001', '003', '009'] },
      { dryRun: true, idempotencyKey: 'k' },
    );
    expect(r.summary).toBe(
      'Would run firewall-drop 203.0.113.7 on agents 001 (web-1, active), 003 (old-1, disconnected); unknown agents: 009.',
    );
    expect(server.received.map((x) => x.method)).toEqual(['POST', 'GET']);
  });

  it('rolls back with the configured undo command, and says plainly when there is none', async () => {
    const a = action();
    const r = await a.execute(INPUT, run);
    await a.rollback!(INPUT, r.rollback_data, run);
    expect(JSON.parse(server.received.at(-1)!.body)).toEqual({
      command: '!firewall-undrop.sh',
      arguments: [],
      alert: { data: { srcip: '203.0.113.7' } },
    });
    expect([...w.agents.get('001')!.blocked]).toEqual([]);

    const plain = action({ rollback_commands: {} });
    const r2 = await plain.execute(INPUT, run);
    const err = await plain.rollback!(INPUT, r2.rollback_data, run).catch((e: unknown) => e);
    expect((err as AisocError).code).toBe('AISOC_ERR_ACTION_ROLLBACK_UNSUPPORTED');
  });

  it.skipIf(!testCert())('verifies the API certificate unless told not to', async () => {
    const cert = testCert()!;
    await server.close();
    w = await wazuh(state, cert);
    server = w.server;
    const refused = await action()
      .execute(INPUT, run)
      .catch((e: unknown) => e);
    expect((refused as AisocError).message).toMatch(/^TLS verification of Wazuh API authentication failed/);
    expect(server.received).toHaveLength(0);
    expect((await action({ ca_file: cert.caFile }).execute(INPUT, run)).status).toBe('succeeded');
    expect(
      (await action({ verify_tls: false }).execute({ ...INPUT, srcip: '203.0.113.9' }, run)).status,
    ).toBe('succeeded');
  });
});
