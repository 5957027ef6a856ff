import { createHmac } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AisocError } from '../../../errors.ts';
import { silentLogger } from '../../../telemetry/logger.ts';
import { FAST_RETRY } from '../testing/aws.ts';
import { describeActionConformance } from '../testing/conformance.ts';
import { type Receiver, startReceiver } from '../testing/servers.ts';
import { testCert } from '../testing/tls.ts';
import { signWebhook, verifyWebhook } from './signature.ts';
import { webhookFactory } from './webhook.ts';

const SECRET = 'whsec_aisoc_test_0123456789abcdefghijklmnop';
const PATH = '/hooks/aisoc?token=url-Token-Abc123XYZ';
const INCIDENT = '0190b6c4-5f1e-7c3a-9d2b-0123456789ab';
const INPUT = {
  title: 'Impossible travel',
  summary: 'dev-alice signed in from two continents in 5 minutes.',
  severity: 'medium',
  incident_id: INCIDENT,
};

/** A receiver that verifies the signature as docs/actions.md tells receivers to. */
async function receiver(state: { failing: boolean }, tls?: { key: string; cert: string }) {
  return startReceiver((req, res) => {
    if (state.failing) {
      res.writeHead(502);
      return void res.end(`bad gateway for ${req.path}`);
    }
    const sig = req.headers['x-aisoc-signature'];
    if (!verifyWebhook(SECRET, typeof sig === 'string' ? sig : undefined, req.body)) {
      res.writeHead(401);
      return void res.end('bad signature');
    }
    res.writeHead(204);
    res.end();
  }, tls);
}

describeActionConformance({
  factory: webhookFactory,
  config: { retry: FAST_RETRY },
  async harness() {
    const state = { failing: false };
    const r = await receiver(state);
    return {
      ctx: { env: { AISOC_WEBHOOK_URL: `${r.url}${PATH}`, AISOC_NOTIFY_WEBHOOK_SECRET: SECRET } },
      mutations: () => r.received.map((x) => `${x.method} ${x.path}`),
      calls: () => r.received.length,
      fail: () => {
        state.failing = true;
      },
      close: () => r.close(),
    };
  },
  validInput: INPUT,
  otherInput: { ...INPUT, severity: 'low' },
  badInputs: [
    { input: { ...INPUT, url: 'ftp://example.com/x' }, field: 'url' },
    { input: { ...INPUT, target: 'https://attacker.example' }, field: 'target' },
  ],
  secrets: [SECRET, 'url-Token-Abc123XYZ'],
});

describe('notify.webhook', () => {
  let r: Receiver;
  const state = { failing: false };
  beforeEach(async () => {
    state.failing = false;
    r = await receiver(state);
  });
  afterEach(() => r.close());
  const env = () => ({ AISOC_WEBHOOK_URL: `${r.url}${PATH}`, AISOC_NOTIFY_WEBHOOK_SECRET: SECRET });
  const run = { dryRun: false, idempotencyKey: 'delivery-42' };

  it('POSTs the JSON body signed with HMAC-SHA256 over "aisoc-notify-v1.<t>.<body>", with the delivery id', async () => {
    const before = Math.floor(Date.now() / 1000);
    const res = await webhookFactory
      .create({ retry: FAST_RETRY }, { logger: silentLogger(), env: env() })
      .execute(INPUT, run);
    expect(res.status).toBe('succeeded');
    const req = r.received[0]!;
    expect(req.path).toBe(PATH);
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['x-aisoc-delivery']).toBe('delivery-42');
    const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(req.headers['x-aisoc-signature']));
    expect(m).not.toBeNull();
    const t = Number(m![1]);
    expect(t).toBeGreaterThanOrEqual(before);
    // Recompute independently of the module under test.
    expect(m![2]).toBe(createHmac('sha256', SECRET).update(`aisoc-notify-v1.${t}.${req.body}`).digest('hex'));
    const sent = JSON.parse(req.body) as Record<string, unknown>;
    expect(Object.keys(sent)).toEqual(['type', 'id', 'sent_at', 'notification']);
    expect(sent).toMatchObject({ type: 'aisoc.notification', id: 'delivery-42', notification: INPUT });
    expect(Date.parse(sent.sent_at as string)).toBeGreaterThanOrEqual(before * 1000);
  });

  it('verification refuses a tampered body, a wrong secret, and a stale timestamp', () => {
    const body = '{"a":1}';
    const now = 1_800_000_000;
    const header = signWebhook(SECRET, now, body);
    expect(verifyWebhook(SECRET, header, body, { nowS: now })).toBe(true);
    expect(verifyWebhook(SECRET, header, '{"a":2}', { nowS: now })).toBe(false);
    expect(verifyWebhook(`${SECRET}x`, header, body, { nowS: now })).toBe(false);
    expect(verifyWebhook(SECRET, header, body, { nowS: now + 301 })).toBe(false);
    expect(verifyWebhook(SECRET, 'v1=abc', body, { nowS: now })).toBe(false);
    expect(verifyWebhook(SECRET, undefined, body)).toBe(false);
  });

  it('does not follow a redirect, which would replay the signed request elsewhere', async () => {
    await r.close();
    r = await startReceiver((_req, res) => {
      res.writeHead(307, { location: 'https://elsewhere.example/collect' });
      res.end();
    });
    const err = await webhookFactory
      .create({ retry: FAST_RETRY }, { logger: silentLogger(), env: env() })
      .execute(INPUT, run)
      .catch((e: unknown) => e);
    expect((err as AisocError).code).toBe('AISOC_ERR_ACTION_FAILED');
    expect((err as AisocError).message).toContain('redirects are not followed');
    expect(r.received).toHaveLength(1);
  });

  it('refuses a short signing secret at creation', () => {
    expect(() =>
      webhookFactory.create(
        {},
        { logger: silentLogger(), env: { ...env(), AISOC_NOTIFY_WEBHOOK_SECRET: 'short' } },
      ),
    ).toThrow(/at least 32 characters/);
  });

  it.skipIf(!testCert())(
    'verifies the receiver certificate over HTTPS against the configured CA',
    async () => {
      const cert = testCert()!;
      await r.close();
      r = await receiver(state, cert);
      const https = { AISOC_WEBHOOK_URL: `${r.url}${PATH}`, AISOC_NOTIFY_WEBHOOK_SECRET: SECRET };
      const ok = await webhookFactory
        .create({ retry: FAST_RETRY, ca_file: cert.caFile }, { logger: silentLogger(), env: https })
        .execute(INPUT, run);
      expect(ok.status).toBe('succeeded');
      const err = await webhookFactory
        .create({ retry: FAST_RETRY }, { logger: silentLogger(), env: https })
        .execute(INPUT, run)
        .catch((e: unknown) => e);
      expect((err as AisocError).message).toMatch(/^TLS verification of webhook receiver failed/);
      expect(r.received).toHaveLength(1);
    },
  );
});
