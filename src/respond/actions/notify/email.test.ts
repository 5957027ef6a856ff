import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';
import type { AisocError } from '../../../errors.ts';
import { silentLogger } from '../../../telemetry/logger.ts';
import { FAST_RETRY } from '../testing/aws.ts';
import { describeActionConformance } from '../testing/conformance.ts';
import { testCert } from '../testing/tls.ts';
import { emailFactory } from './email.ts';

const PASSWORD = 'smtp-Pa55word-aisoc-test';
const INCIDENT = '0190b6c4-5f1e-7c3a-9d2b-0123456789ab';
const INPUT = {
  title: 'Root account console login',
  summary: 'The root user signed in to the console from 203.0.113.45 without MFA.',
  severity: 'critical',
  incident_id: INCIDENT,
  fields: { Account: '111122223333' },
};

interface Sink {
  port: number;
  messages: Array<{ from: string; to: string[]; raw: string; secure: boolean; user?: string }>;
  connections: number;
  state: { failing: boolean };
  close(): Promise<void>;
}

/** A real SMTP server on a free port that keeps what it receives. */
async function smtpSink(options: Partial<SMTPServerOptions> = {}): Promise<Sink> {
  const cert = testCert()!;
  const sink: Sink = {
    port: 0,
    messages: [],
    connections: 0,
    state: { failing: false },
    close: async () => {},
  };
  const server = new SMTPServer({
    key: cert.key,
    cert: cert.cert,
    logger: false,
    authMethods: ['PLAIN', 'LOGIN'],
    onConnect(_session, cb) {
      sink.connections++;
      cb();
    },
    onAuth(auth, _session, cb) {
      if (sink.state.failing || auth.username !== 'soc-bot' || auth.password !== PASSWORD)
        return cb(Object.assign(new Error('Authentication failed'), { responseCode: 535 }));
      cb(null, { user: auth.username });
    },
    onData(stream, session, cb) {
      let raw = '';
      stream.on('data', (d: Buffer) => {
        raw += d.toString('utf8');
      });
      stream.on('end', () => {
        sink.messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          secure: session.secure,
          user: session.user as string | undefined,
        });
        cb();
      });
    },
    ...options,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  sink.port = (server.server.address() as AddressInfo).port;
  sink.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return sink;
}

const baseConfig = (port: number, cert = testCert()!) => ({
  host: '127.0.0.1',
  port,
  username: 'soc-bot',
  password_env: 'AISOC_SMTP_PASSWORD',
  ca_file: cert.caFile,
  from: 'soc@example.com',
  to: ['oncall@example.com', 'ciso@example.com'],
  cc: ['audit@example.com'],
  link_base_url: 'https://soc.example.com',
  retry: FAST_RETRY,
  timeout_ms: 20_000,
});
const env = { AISOC_SMTP_PASSWORD: PASSWORD };

describe.skipIf(!testCert())('notify.email over a real SMTP server', () => {
  let conformancePort = 0;
  describeActionConformance({
    factory: emailFactory,
    get config() {
      return baseConfig(conformancePort);
    },
    async harness() {
      const sink = await smtpSink();
      conformancePort = sink.port;
      return {
        ctx: { env },
        mutations: () => sink.messages.map((m) => `DATA ${m.to.join(',')}`),
        calls: () => sink.connections,
        fail: () => {
          sink.state.failing = true;
        },
        close: () => sink.close(),
      };
    },
    validInput: INPUT,
    equivalentInput: { ...INPUT, summary: `${INPUT.summary}\n` },
    otherInput: { ...INPUT, title: 'Another title' },
    badInputs: [
      { input: { ...INPUT, severity: 'sev1' }, field: 'severity' },
      { input: { ...INPUT, to: ['attacker@example.net'] }, field: 'to' },
      { input: { ...INPUT, summary: 'x'.repeat(3001) }, field: 'summary' },
    ],
    secrets: [PASSWORD],
  });

  describe('notify.email', () => {
    let sink: Sink | undefined;
    afterEach(async () => {
      await sink?.close();
      sink = undefined;
    });
    const run = { dryRun: false, idempotencyKey: 'run-7' };

    it('sends one message over STARTTLS with AUTH, to exactly the configured recipients', async () => {
      sink = await smtpSink();
      const r = await emailFactory
        .create(baseConfig(sink.port), { logger: silentLogger(), env })
        .execute(INPUT, run);
      expect(r.status).toBe('succeeded');
      expect(sink.messages).toHaveLength(1);
      const m = sink.messages[0]!;
      expect(m.secure).toBe(true);
      expect(m.user).toBe('soc-bot');
      expect(m.from).toBe('soc@example.com');
      expect(m.to).toEqual(['oncall@example.com', 'ciso@example.com', 'audit@example.com']);
      expect(m.raw).toMatch(/^Subject: \[AI-SOC\] \[CRITICAL\] Root account console login\r$/m);
      expect(m.raw).toMatch(/^Message-ID: <aisoc\.[0-9a-f]{32}@example\.com>\r$/m);
      expect(m.raw).toMatch(/^X-AISOC-Severity: critical\r$/im);
      expect(m.raw).toMatch(new RegExp(`^X-AISOC-Incident: ${INCIDENT}\\r$`, 'im'));
      const text = m.raw.replace(/=\r\n/g, '');
      expect(text).toContain('The root user signed in to the console from 203.0.113.45 without MFA.');
      expect(text).toContain(`Open: https://soc.example.com/incidents/${INCIDENT}`);
      expect(m.raw).not.toContain(PASSWORD);
    });

    it('gives the same Message-ID to a repeated run of the same request', async () => {
      sink = await smtpSink();
      const a = emailFactory.create(baseConfig(sink.port), { logger: silentLogger(), env });
      await a.execute(INPUT, run);
      await a.execute(INPUT, run);
      const ids = sink.messages.map((m) => /^Message-ID: (.*)\r$/m.exec(m.raw)?.[1]);
      expect(ids[0]).toBeDefined();
      expect(ids[1]).toBe(ids[0]);
    });

    it('refuses to send in clear when STARTTLS is required but not offered', async () => {
      sink = await smtpSink({ disabledCommands: ['STARTTLS'], allowInsecureAuth: true });
      const err = await emailFactory
        .create(baseConfig(sink.port), { logger: silentLogger(), env })
        .execute(INPUT, run)
        .catch((e: unknown) => e);
      expect((err as AisocError).code).toMatch(/^AISOC_ERR_ACTION_/);
      expect(sink.messages).toHaveLength(0);
    });

    it('fails TLS verification of a server certificate it has no CA for', async () => {
      sink = await smtpSink();
      const { ca_file: _ca, ...noCa } = baseConfig(sink.port);
      const err = await emailFactory
        .create(noCa, { logger: silentLogger(), env })
        .execute(INPUT, run)
        .catch((e: unknown) => e);
      expect((err as AisocError).code).toBe('AISOC_ERR_ACTION_FAILED');
      expect(sink.messages).toHaveLength(0);
    });

    it('retries a transient 451 on RCPT, then delivers once', async () => {
      let firstSession: string | undefined;
      sink = await smtpSink({
        onRcptTo(_address, session, cb) {
          firstSession ??= session.id;
          if (session.id === firstSession)
            return cb(Object.assign(new Error('Try again later'), { responseCode: 451 }));
          cb();
        },
      });
      const r = await emailFactory
        .create(baseConfig(sink.port), { logger: silentLogger(), env })
        .execute(INPUT, run);
      expect(r.status).toBe('succeeded');
      expect(sink.messages).toHaveLength(1);
      expect(sink.connections).toBe(2);
    });

    it('does not retry a permanent 554 on DATA', async () => {
      sink = await smtpSink({
        onData(stream, _session, cb) {
          stream.resume();
          stream.on('end', () =>
            cb(Object.assign(new Error('Message rejected as spam'), { responseCode: 554 })),
          );
        },
      });
      const err = await emailFactory
        .create(baseConfig(sink.port), { logger: silentLogger(), env })
        .execute(INPUT, run)
        .catch((e: unknown) => e);
      expect((err as AisocError).code).toBe('AISOC_ERR_ACTION_FAILED');
      expect((err as AisocError).details).toMatchObject({ smtp_response_code: 554 });
      expect(sink.connections).toBe(1);
    });

    it('sends over implicit TLS when secure is set', async () => {
      sink = await smtpSink({ secure: true });
      const r = await emailFactory
        .create({ ...baseConfig(sink.port), secure: true }, { logger: silentLogger(), env })
        .execute(INPUT, run);
      expect(r.status).toBe('succeeded');
      expect(sink.messages[0]!.secure).toBe(true);
    });

    it('refuses a config with a user but no password variable', () => {
      const { password_env: _p, ...c } = baseConfig(25);
      expect(() => emailFactory.create(c, { logger: silentLogger(), env })).toThrow(/password_env/);
    });
  });
});
