import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer, tempDir, testServer } from '../../../test/helpers/runtime.ts';
import { verifyWebhook } from '../../respond/actions/notify/signature.ts';
import { webhookFactory } from '../../respond/actions/notify/webhook.ts';
import { startReceiver } from '../../respond/actions/testing/servers.ts';
import { wazuhMetrics } from '../../sources/wazuh/metrics.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyWebhookSignature, webhookSignature } from './webhook.ts';

const run = promisify(execFile);
const repo = join(import.meta.dirname, '../../..');
const script = join(repo, 'content/integrations/wazuh/custom-aisoc');
const alertLines = readFileSync(join(repo, 'src/sources/wazuh/fixtures/alerts.json'), 'utf8')
  .trim()
  .split('\n');
const sshAlert = alertLines[0]!; // rule 5710, level 5 → low
const sysmonAlert = alertLines[8]!; // rule 92008, level 12 → critical
const SECRET = 'wazuh-to-aisoc-shared-secret-0123456789abcdef';

async function counter(t: TestServer, name: 'wazuhAlerts' | 'wazuhEventsProcessed', severity?: string) {
  const { values } = await wazuhMetrics(t.runtime.metrics)[name].get();
  return values.find((v) => severity === undefined || v.labels.severity === severity)?.value ?? 0;
}

describe('POST /webhook without a shared secret', () => {
  let t: TestServer;
  let key: string;
  beforeAll(async () => {
    t = await testServer();
    key = await t.key(['ingest']);
  });
  afterAll(async () => t.close());

  const post = (payload: string | Buffer, headers: Record<string, string> = {}) =>
    t.app.inject({
      method: 'POST',
      url: '/webhook',
      payload,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers },
    });

  it('stores one raw alert, answers 202 with the ingest outcome, and counts it by severity once', async () => {
    const r = await post(sshAlert);
    expect(r.statusCode).toBe(202);
    expect(r.json()).toEqual({
      source: 'wazuh',
      received: 1,
      stored: 1,
      duplicates: 0,
      dead_letters: 0,
      skipped: 0,
      errors: [],
    });
    const events = await t.runtime.store.events.list({ source: 'wazuh' });
    expect(events.items.map((e) => e.finding?.uid)).toEqual(['5710']);
    expect(await counter(t, 'wazuhAlerts', 'low')).toBe(1);
    expect(await counter(t, 'wazuhEventsProcessed')).toBe(1);
    // Wazuh may resend an alert: it is recognised, not stored or counted again.
    const again = await post(sshAlert);
    expect(again.json()).toMatchObject({ stored: 0, duplicates: 1 });
    expect(await counter(t, 'wazuhAlerts', 'low')).toBe(1);
  });

  it('accepts an array or NDJSON of alerts and the key in X-API-Key', async () => {
    const ndjson = await post(`${alertLines[1]}\n${alertLines[2]}\n`);
    expect(ndjson.json()).toMatchObject({ received: 2, stored: 2 });
    const array = await t.app.inject({
      method: 'POST',
      url: '/webhook',
      payload: `[${alertLines[3]},${alertLines[4]}]`,
      headers: { 'content-type': 'application/json', 'x-api-key': key },
    });
    expect(array.statusCode).toBe(202);
    expect(array.json()).toMatchObject({ received: 2, stored: 2 });
  });

  it('refuses requests without a key, with a read key, or with two different keys', async () => {
    const anon = await t.app.inject({ method: 'POST', url: '/webhook', payload: sshAlert });
    expect(anon.statusCode).toBe(401);
    expect(anon.json().code).toBe('AISOC_ERR_UNAUTHORIZED');
    const reader = await t.key(['read']);
    const forbidden = await post(sshAlert, { authorization: `Bearer ${reader}` });
    expect(forbidden.statusCode).toBe(403);
    const both = await post(sshAlert, { 'x-api-key': reader });
    expect(both.statusCode).toBe(401);
    expect(both.json().field).toBe('x-api-key');
    const spaced = await t.app.inject({
      method: 'POST',
      url: '/webhook',
      payload: sshAlert,
      headers: { 'x-api-key': 'a b' },
    });
    expect(spaced.statusCode).toBe(401);
  });

  it('refuses malformed bodies whole and names what is wrong', async () => {
    const broken = await post('{"rule": ');
    expect(broken.statusCode).toBe(400);
    expect(broken.json().code).toBe('AISOC_ERR_BAD_JSON');
    const empty = await post('');
    expect(empty.statusCode).toBe(400);
    expect(empty.json().field).toBe('body');
    const notAlert = await post('{"hello": "world"}');
    expect(notAlert.statusCode).toBe(400);
    expect(notAlert.json()).toMatchObject({ code: 'AISOC_ERR_VALIDATION', field: '[0].rule' });
    const deadLetters = await t.runtime.store.deadLetters.list({});
    expect(deadLetters.items.some((d) => d.source === 'wazuh' && d.field === 'rule')).toBe(true);
  });
});

describe('POST /webhook with a shared secret', () => {
  let t: TestServer;
  let key: string;
  beforeAll(async () => {
    t = await testServer({ sources: { wazuh: { webhook_hmac_secret: SECRET } } });
    key = await t.key(['ingest']);
  });
  afterAll(async () => t.close());

  const now = () => String(Math.floor(Date.now() / 1000));
  const signed = (body: Buffer | string, ts = now(), sig?: string, extra: Record<string, string> = {}) => {
    const buf = Buffer.isBuffer(body) ? body : Buffer.from(body);
    return t.app.inject({
      method: 'POST',
      url: '/webhook',
      payload: buf,
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${key}`,
        [TIMESTAMP_HEADER]: ts,
        [SIGNATURE_HEADER]: sig ?? webhookSignature(SECRET, ts, buf),
        ...extra,
      },
    });
  };

  it('accepts a correctly signed alert, also gzip-compressed (the signature covers the bytes sent)', async () => {
    const r = await signed(sysmonAlert);
    expect(r.statusCode).toBe(202);
    expect(r.json().stored).toBe(1);
    expect(await counter(t, 'wazuhAlerts', 'critical')).toBe(1);
    const gz = await signed(gzipSync(Buffer.from(alertLines[5]!)), now(), undefined, {
      'content-encoding': 'gzip',
    });
    expect(gz.statusCode).toBe(202);
    expect(gz.json().stored).toBe(1);
  });

  it('refuses unsigned, stale, tampered and replayed requests with 401 naming the header', async () => {
    const unsigned = await t.app.inject({
      method: 'POST',
      url: '/webhook',
      payload: sshAlert,
      headers: { authorization: `Bearer ${key}` },
    });
    expect(unsigned.statusCode).toBe(401);
    expect(unsigned.json()).toMatchObject({
      field: TIMESTAMP_HEADER,
      details: { reason: 'missing_timestamp' },
    });

    const stale = String(Math.floor(Date.now() / 1000) - 3600);
    const old = await signed(sshAlert, stale);
    expect(old.statusCode).toBe(401);
    expect(old.json().details.reason).toBe('stale_timestamp');

    const ts = now();
    const sig = webhookSignature(SECRET, ts, Buffer.from(sshAlert));
    const tampered = await signed(sshAlert.replace('"level":5', '"level":15'), ts, sig);
    expect(tampered.statusCode).toBe(401);
    expect(tampered.json()).toMatchObject({ field: SIGNATURE_HEADER, details: { reason: 'bad_signature' } });

    // A captured request replayed later with a fresh timestamp no longer matches its signature.
    const replay = await signed(sshAlert, String(Number(ts) + 1), sig);
    expect(replay.statusCode).toBe(401);

    const wrongSecret = await signed(
      sshAlert,
      ts,
      webhookSignature('another-secret-of-sufficient-length-000', ts, Buffer.from(sshAlert)),
    );
    expect(wrongSecret.statusCode).toBe(401);
    const malformed = await signed(sshAlert, ts, 'sha1=abc');
    expect(malformed.json().details.reason).toBe('bad_signature');
    const events = await t.runtime.store.events.list({ source: 'wazuh' });
    expect(events.items.every((e) => e.finding?.uid !== '5710')).toBe(true);
  });

  it('verifies in constant time against the expected digest and treats repeated headers as absent', () => {
    const body = Buffer.from('{}');
    const settings = { secret: SECRET, toleranceMs: 300_000 };
    const at = 1_795_248_842_000;
    const ts = String(at / 1000);
    expect(() =>
      verifyWebhookSignature(
        { [TIMESTAMP_HEADER]: ts, [SIGNATURE_HEADER]: webhookSignature(SECRET, ts, body) },
        body,
        settings,
        at,
      ),
    ).not.toThrow();
    expect(() =>
      verifyWebhookSignature(
        { [TIMESTAMP_HEADER]: [ts, ts], [SIGNATURE_HEADER]: webhookSignature(SECRET, ts, body) },
        body,
        settings,
        at,
      ),
    ).toThrow(/X-AISOC-Timestamp/);
    expect(() =>
      verifyWebhookSignature({ [TIMESTAMP_HEADER]: '17e8', [SIGNATURE_HEADER]: 'x' }, body, settings, at),
    ).toThrow(/Unix seconds/);
  });

  it('fails at start-up on a secret that is too short, naming the setting', async () => {
    await expect(testServer({ sources: { wazuh: { webhook_hmac_secret: 'short' } } })).rejects.toMatchObject({
      code: 'AISOC_ERR_CONFIG',
      message: expect.stringContaining('sources.wazuh'),
    });
  });
});

describe('a captured notification replayed at POST /webhook', () => {
  let t: TestServer;
  let key: string;
  beforeAll(async () => {
    t = await testServer({ sources: { wazuh: { webhook_hmac_secret: SECRET } } });
    key = await t.key(['ingest']);
  });
  afterAll(async () => t.close());

  it('is refused even when the operator gave notifications the same secret value', async () => {
    // What an on-call receiver (or anyone on its path) gets from notify.webhook.
    const receiver = await startReceiver((_req, res) => {
      res.writeHead(204);
      res.end();
    });
    try {
      const action = webhookFactory.create(
        { secret_env: 'TEST_NOTIFY_SECRET', retry: { max_attempts: 1 } },
        {
          logger: silentLogger(),
          env: { AISOC_WEBHOOK_URL: `${receiver.url}/hook`, TEST_NOTIFY_SECRET: SECRET },
        },
      );
      const sent = await action.execute(
        { title: 'Brute force', summary: 'closed as requested', severity: 'high' },
        { dryRun: false, idempotencyKey: 'delivery-1' },
      );
      expect(sent.status).toBe('succeeded');
      const captured = receiver.received[0]!;
      const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(captured.headers['x-aisoc-signature']));
      expect(m).not.toBeNull();
      const replay = await t.app.inject({
        method: 'POST',
        url: '/webhook',
        payload: captured.body,
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${key}`,
          [TIMESTAMP_HEADER]: m![1]!,
          [SIGNATURE_HEADER]: `sha256=${m![2]}`,
        },
      });
      expect(replay.statusCode).toBe(401);
      expect(replay.json()).toMatchObject({ field: SIGNATURE_HEADER, details: { reason: 'bad_signature' } });
      // And the other way round: a /webhook signature is no notification signature.
      const ts = String(Math.floor(Date.now() / 1000));
      const inbound = webhookSignature(SECRET, ts, Buffer.from(captured.body)).slice('sha256='.length);
      expect(verifyWebhook(SECRET, `t=${ts},v1=${inbound}`, captured.body)).toBe(false);
    } finally {
      await receiver.close();
    }
  });
});

describe('the custom-aisoc integration script against a listening server', () => {
  let t: TestServer;
  let key: string;
  let url: string;
  const dir = tempDir('aisoc-webhook-');
  beforeAll(async () => {
    t = await testServer({ sources: { wazuh: { webhook_hmac_secret: SECRET } } });
    key = await t.key(['ingest']);
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}/webhook`;
  });
  afterAll(async () => {
    await t.close();
    dir.cleanup();
  });

  const options = (secret: string) => {
    const file = join(dir.dir, `options-${secret.length}-${secret.slice(0, 4)}.json`);
    writeFileSync(
      file,
      JSON.stringify({ hmac_secret: secret, log_file: join(dir.dir, 'integrations.log'), retries: 0 }),
    );
    return file;
  };
  const alertFile = (line: string, name: string) => {
    const file = join(dir.dir, name);
    // integratord writes the alert as one JSON document, like this.
    writeFileSync(file, `${line}\n`);
    return file;
  };
  const runScript = (args: string[]) =>
    run('/usr/bin/python3', [script, ...args], {
      env: { PATH: process.env.PATH ?? '/usr/bin' },
      timeout: 120_000,
    }).then(
      () => 0,
      (err: { code?: number }) => err.code ?? -1,
    );

  it('delivers a signed alert that is stored as a Wazuh event', async () => {
    const code = await runScript([alertFile(sysmonAlert, 'alert-1.json'), key, url, options(SECRET)]);
    expect(code).toBe(0);
    const events = await t.runtime.store.events.list({ source: 'wazuh' });
    expect(events.items).toHaveLength(1);
    expect(events.items[0]!.finding).toMatchObject({ uid: '92008', severity: 'critical' });
    expect(events.items[0]!.device?.hostname).toBe('hr-ws-07');
  });

  it('exits 1 and stores nothing when the secret is wrong, logging why without the key', async () => {
    const code = await runScript([alertFile(sshAlert, 'alert-2.json'), key, url, options('x'.repeat(40))]);
    expect(code).toBe(1);
    const events = await t.runtime.store.events.list({ source: 'wazuh' });
    expect(events.items.map((e) => e.finding?.uid)).toEqual(['92008']);
    const log = readFileSync(join(dir.dir, 'integrations.log'), 'utf8');
    expect(log).toMatch(/HTTP 401 .*X-AISOC-Signature does not match/);
    expect(log).not.toContain(key);
  });

  it('exits 2 on bad arguments instead of posting', async () => {
    expect(await runScript([alertFile('not json', 'alert-3.json'), key, url, options(SECRET)])).toBe(2);
    expect(await runScript([alertFile(sshAlert, 'alert-4.json'), key, 'ftp://example'])).toBe(2);
  });
});
