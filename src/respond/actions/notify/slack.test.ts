import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AisocError } from '../../../errors.ts';
import { silentLogger } from '../../../telemetry/logger.ts';
import { FAST_RETRY } from '../testing/aws.ts';
import { describeActionConformance } from '../testing/conformance.ts';
import { type Receiver, startReceiver } from '../testing/servers.ts';
import { slackFactory } from './slack.ts';

const HOOK = '/services/T000AISOC/B000AISOC/XXXXaisocSecretToken1234';
const INCIDENT = '0190b6c4-5f1e-7c3a-9d2b-0123456789ab';
const INPUT = {
  title: 'Access key used from a new country',
  summary: 'AKIAIOSFODNN7EXAMPLE called ListBuckets from 203.0.113.45.',
  severity: 'high',
  incident_id: INCIDENT,
  fields: { User: 'dev-alice', 'Source IP': '203.0.113.45' },
};
const CONFIG = { retry: FAST_RETRY, link_base_url: 'https://soc.example.com/' };

/** A Slack incoming webhook: 200 "ok" for its secret path, Slack's error words otherwise. */
async function slackServer(state: { failing: boolean }) {
  return startReceiver((req, res) => {
    if (state.failing) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      return void res.end(`internal error for ${req.path}`);
    }
    if (req.path !== HOOK) {
      res.writeHead(404);
      return void res.end('no_service');
    }
    try {
      const body = JSON.parse(req.body) as { text?: string; blocks?: unknown[] };
      if (!body.text && !body.blocks) throw new Error('empty');
    } catch {
      res.writeHead(400);
      return void res.end('invalid_payload');
    }
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('ok');
  });
}

describeActionConformance({
  factory: slackFactory,
  config: CONFIG,
  async harness() {
    const state = { failing: false };
    const server = await slackServer(state);
    return {
      ctx: { env: { AISOC_SLACK_WEBHOOK_URL: `${server.url}${HOOK}` } },
      mutations: () => server.received.map((r) => `${r.method} ${r.path}`),
      calls: () => server.received.length,
      fail: () => {
        state.failing = true;
      },
      close: () => server.close(),
    };
  },
  validInput: INPUT,
  equivalentInput: { ...INPUT, title: `  ${INPUT.title}  `, severity: 'high' },
  otherInput: { ...INPUT, severity: 'critical' },
  badInputs: [
    { input: { ...INPUT, severity: 'urgent' }, field: 'severity' },
    { input: { ...INPUT, title: '' }, field: 'title' },
    { input: { ...INPUT, incident_id: 'inc-1' }, field: 'incident_id' },
    { input: { ...INPUT, url: 'javascript:alert(1)' }, field: 'url' },
    { input: { ...INPUT, channel: '#general' }, field: 'channel' },
    {
      input: { ...INPUT, fields: Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, 'v'])) },
      field: 'fields',
    },
  ],
  secrets: [HOOK, 'XXXXaisocSecretToken1234'],
});

describe('notify.slack', () => {
  let server: Receiver;
  const state = { failing: false };
  beforeEach(async () => {
    state.failing = false;
    server = await slackServer(state);
  });
  afterEach(() => server.close());
  const action = (config: Record<string, unknown> = CONFIG) =>
    slackFactory.create(config, {
      logger: silentLogger(),
      env: { AISOC_SLACK_WEBHOOK_URL: `${server.url}${HOOK}` },
    });
  const run = { dryRun: false, idempotencyKey: 'k' };

  it('posts one Block Kit message with the summary, the facts and a link to the incident', async () => {
    const r = await action().execute(INPUT, run);
    expect(r.status).toBe('succeeded');
    expect(server.received).toHaveLength(1);
    const req = server.received[0]!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe(HOOK);
    expect(req.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(req.body)).toEqual({
      text: '[HIGH] Access key used from a new country',
      blocks: [
        {
          type: 'header',
          text: {
            type: 'plain_text',
            text: ':large_orange_circle: Access key used from a new country',
            emoji: true,
          },
        },
        { type: 'section', text: { type: 'mrkdwn', text: INPUT.summary } },
        {
          type: 'section',
          fields: [
            { type: 'mrkdwn', text: '*Severity*\nhigh' },
            { type: 'mrkdwn', text: `*Incident*\n${INCIDENT}` },
            { type: 'mrkdwn', text: '*User*\ndev-alice' },
            { type: 'mrkdwn', text: '*Source IP*\n203.0.113.45' },
          ],
        },
        {
          type: 'actions',
          elements: [
            {
              type: 'button',
              text: { type: 'plain_text', text: 'Open in AI-SOC' },
              url: `https://soc.example.com/incidents/${INCIDENT}`,
            },
          ],
        },
        { type: 'context', elements: [{ type: 'mrkdwn', text: 'AI-SOC · severity high' }] },
      ],
    });
  });

  it('escapes event text so it cannot ping channels or disguise links', async () => {
    await action().execute(
      { ...INPUT, summary: 'user <!channel> ran <https://evil.example|docs> & left' },
      run,
    );
    const body = JSON.parse(server.received[0]!.body) as { blocks: Array<{ text?: { text: string } }> };
    expect(body.blocks[1]!.text!.text).toBe(
      'user &lt;!channel&gt; ran &lt;https://evil.example|docs&gt; &amp; left',
    );
  });

  it('retries a 429 after its Retry-After, then succeeds', async () => {
    let first = true;
    await server.close();
    server = await startReceiver((_req, res) => {
      if (first) {
        first = false;
        res.writeHead(429, { 'retry-after': '0' });
        return void res.end('rate_limited');
      }
      res.end('ok');
    });
    const r = await action().execute(INPUT, run);
    expect(r.status).toBe('succeeded');
    expect(server.received).toHaveLength(2);
  });

  it('maps Slack refusals to typed errors without retrying them', async () => {
    await server.close();
    server = await startReceiver((_req, res) => {
      res.writeHead(410);
      res.end('channel_is_archived');
    });
    const err = await action()
      .execute(INPUT, run)
      .catch((e: unknown) => e);
    expect((err as AisocError).code).toBe('AISOC_ERR_ACTION_NOT_FOUND');
    expect((err as AisocError).details).toMatchObject({ http_status: 410, response: 'channel_is_archived' });
    expect(server.received).toHaveLength(1);
  });

  it('fails fast at creation when the webhook variable is unset or not https', () => {
    expect(() => slackFactory.create(CONFIG, { logger: silentLogger(), env: {} })).toThrow(
      /AISOC_SLACK_WEBHOOK_URL/,
    );
    expect(() =>
      slackFactory.create(CONFIG, {
        logger: silentLogger(),
        env: { AISOC_SLACK_WEBHOOK_URL: 'http://hooks.example.com/x' },
      }),
    ).toThrow(/must use https/);
  });

  it('returns the message it would post in a dry run, and posts nothing', async () => {
    const r = await action().execute(INPUT, { dryRun: true, idempotencyKey: 'k' });
    expect(r.details.message).toMatchObject({ text: '[HIGH] Access key used from a new country' });
    expect(server.received).toHaveLength(0);
  });
});
