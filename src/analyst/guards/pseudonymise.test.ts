import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnalystConfig } from '../config.ts';
import { createLlmBackend } from '../llm/index.ts';
import { testContext } from '../llm/testing/conformance.ts';
import type { FakeLlmServer, RecordedRequest } from '../llm/testing/servers/base.ts';
import { BEDROCK_TEST_CREDENTIALS, startFakeBedrock } from '../llm/testing/servers/bedrock.ts';
import { startFakeOpenAi } from '../llm/testing/servers/openai.ts';
import type { JsonSchema, LlmRequest } from '../llm/types.ts';
import { Pseudonymiser, withPseudonymisation } from './pseudonymise.ts';
import { SECURITY_ALERT_UNTRUSTED_PATHS, spotlightFields } from './spotlight.ts';

describe('Pseudonymiser', () => {
  it('gives one value one token, in every text of the request, and distinct values distinct tokens', () => {
    const p = new Pseudonymiser();
    const a = p.apply('login from 203.0.113.7 then 198.51.100.9');
    const b = p.apply('again 203.0.113.7');
    expect(a).toBe('login from IP_1 then IP_2');
    expect(b).toBe('again IP_1');
  });

  it('finds addresses, e-mails, AWS ids, ARNs, sshd and user= names, internal hosts', () => {
    const p = new Pseudonymiser();
    const out = p.apply(
      [
        'Failed password for invalid user jdoe from 203.0.113.45 port 22',
        'src=10.1.2.3 dst=fe80::1ff:fe23:4567:890a v6=2001:db8::7',
        'mail jane.doe@example.com',
        'arn:aws:iam::111122223333:user/ops/jdoe',
        'arn:aws:sts::111122223333:assumed-role/Admin/jane.doe@example.com',
        'key AKIAIOSFODNN7EXAMPLE temp ASIAY34FZKBOKMUTVV7A account 444455556666',
        'user=alice login: bob "username": "carol"',
        'host ip-10-0-1-5.ec2.internal db01.corp DESKTOP-4F7G2H9',
        'aws iam delete-user --user-name mallory',
      ].join('\n'),
    );
    for (const real of [
      'jdoe',
      '203.0.113.45',
      '10.1.2.3',
      'fe80::1ff:fe23:4567:890a',
      '2001:db8::7',
      'jane.doe@example.com',
      '111122223333',
      'AKIAIOSFODNN7EXAMPLE',
      'ASIAY34FZKBOKMUTVV7A',
      '444455556666',
      'alice',
      'bob',
      'carol',
      'ip-10-0-1-5',
      'db01.corp',
      'DESKTOP-4F7G2H9',
      'mallory',
    ])
      expect(out).not.toContain(real);
    expect(out).toContain('arn:aws:iam::ACCT_1:user/ops/USER_1');
    expect(out).toContain('assumed-role/Admin/EMAIL_1');
    expect(out).toContain('Failed password for invalid user USER_1 from IP_1 port 22');
  });

  it('keeps what identifies no one and what the model needs: versions, times, kept accounts, public domains', () => {
    const p = new Pseudonymiser();
    const text =
      'Mozilla/5.0 Chrome/120.0.0.0 at 12:30:45 user=root via 169.254.169.254 to evil.example.com NT AUTHORITY\\SYSTEM';
    expect(p.apply(text)).toBe(text);
  });

  it('replaces a name found in one text in every other text, even ones before it (discover first)', () => {
    const p = new Pseudonymiser();
    const first = 'deploying as svc_deploy';
    const second = 'Accepted publickey for svc_deploy from 198.51.100.4 port 4242';
    p.discover(first);
    p.discover(second);
    expect(p.apply(first)).toBe('deploying as USER_1');
    expect(p.apply(second)).toBe('Accepted publickey for USER_1 from IP_1 port 4242');
  });

  it('matches registered names case-insensitively, through datamarking and JSON escaping', () => {
    const p = new Pseudonymiser();
    p.register('user', 'John Smith');
    p.register('user', 'CORP\\jdoe');
    p.register('host', 'web-01.corp.example.com');
    const out = p.apply(
      'john smith / John‸Smith / {"u": "CORP\\\\jdoe"} / jdoe / WEB-01.corp.example.com / web-01 / webby',
    );
    expect(out).toBe('USER_1 / USER_1 / {"u": "USER_2"} / USER_3 / HOST_1 / HOST_2 / webby');
  });

  it('restores every token in nested JSON, leaves unknown tokens and respects boundaries (IP_1 vs IP_10)', () => {
    const p = new Pseudonymiser();
    p.apply('a 203.0.113.1 b 10.0.0.1 user=eve');
    const restored = p.restoreDeep({
      summary: 'USER_1 from IP_1 reached IP_2; IP_10 and IP_2x are not ours',
      iocs: [{ value: 'IP_1' }, { value: 'USER_1' }],
      n: 3,
      flag: true,
    });
    expect(restored).toEqual({
      summary: 'eve from 203.0.113.1 reached 10.0.0.1; IP_10 and IP_2x are not ours',
      iocs: [{ value: '203.0.113.1' }, { value: 'eve' }],
      n: 3,
      flag: true,
    });
  });

  it('treats token-shaped text in the data as a value, so restoring is exact', () => {
    const p = new Pseudonymiser();
    const out = p.apply('IP_1 is a hostname; real address 203.0.113.9');
    expect(out).not.toContain('203.0.113.9');
    // The model sees two different tokens, and each restores to what the data said.
    const [literal, real] = out.match(/IP_\d+/g)!;
    expect(literal).not.toBe(real);
    expect(p.restore(`${literal} and ${real}`)).toBe('IP_1 and 203.0.113.9');
  });

  it('describes tokens by facts that identify no one', () => {
    const p = new Pseudonymiser();
    p.apply('10.0.0.8 203.0.113.8 AKIAIOSFODNN7EXAMPLE ASIAY34FZKBOKMUTVV7A');
    expect(p.legend()).toEqual([
      'IP_1: private IPv4 (RFC 1918)',
      'IP_2: public IPv4',
      'KEY_1: long-term AWS access key id (AKIA…, an IAM user key)',
      'KEY_2: temporary AWS access key id (ASIA…, from STS)',
    ]);
  });

  it('handles a long hostile line without breaking (bounded patterns)', () => {
    const p = new Pseudonymiser();
    const hostile = `${'a.'.repeat(30_000)}@ ${'1:'.repeat(20_000)} ${'x'.repeat(30_000)}@example.com`;
    const out = p.apply(hostile);
    expect(out.length).toBeGreaterThan(0);
  });
});

const SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['summary', 'iocs'],
  properties: {
    summary: { type: 'string' },
    iocs: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['ioc_type', 'value'],
        properties: { ioc_type: { type: 'string' }, value: { type: 'string' } },
      },
    },
  },
};

const ALERT = {
  alert_id: 'wazuh-5710-001',
  timestamp: '2026-11-19T08:00:01Z',
  rule_description: 'sshd: brute force then success',
  rule_level: 10,
  source_ip: '203.0.113.45',
  dest_ip: '10.0.4.12',
  source_hostname: 'bastion-01.corp.example.com',
  dest_hostname: 'WIN-7H2K9Q3L',
  user: 'John Smith',
  command: 'aws iam create-access-key --user-name jdoe',
  raw_log:
    'Nov 19 08:00:01 bastion-01 sshd[811]: Failed password for invalid user jdoe from 203.0.113.45 port 52211 ssh2; notify jane.doe@example.com; arn:aws:iam::111122223333:user/ops/jdoe used AKIAIOSFODNN7EXAMPLE from fe80::1ff:fe23:4567:890a',
  full_log: {
    userIdentity: {
      arn: 'arn:aws:sts::111122223333:assumed-role/Admin/jane.doe@example.com',
      accountId: '111122223333',
    },
    TargetUserName: 'svc_backup',
  },
};

const REAL_VALUES = [
  '203.0.113.45',
  '10.0.4.12',
  'bastion-01',
  'corp.example.com',
  'WIN-7H2K9Q3L',
  'John',
  'Smith',
  'jdoe',
  'jane.doe',
  '111122223333',
  'AKIAIOSFODNN7EXAMPLE',
  'fe80::1ff:fe23:4567:890a',
  'svc_backup',
];

function alertRequest(): LlmRequest {
  const { record, spotlight } = spotlightFields(ALERT, SECURITY_ALERT_UNTRUSTED_PATHS);
  return {
    system: `You are a SOC analyst.\n\n${spotlight.systemPrompt}`,
    messages: [{ role: 'user', content: `Triage this alert:\n${JSON.stringify(record)}` }],
    schema: SCHEMA,
    schemaName: 'verdict',
    entities: [
      { kind: 'user', value: ALERT.user },
      { kind: 'host', value: ALERT.source_hostname },
      { kind: 'host', value: ALERT.dest_hostname },
    ],
  };
}

/** The model's side: it answers about the tokens it was given, the way a real model quotes what it sees. */
function answerWithTokens(req: RecordedRequest, server: FakeLlmServer) {
  const { user } = server.adapter.promptOf(req);
  const field = (name: string) => new RegExp(`"${name}":"⟦DATA [a-z]+⟧([^⟦]*)⟦`).exec(user)?.[1] ?? '?';
  const ip = field('source_ip');
  const who = field('user');
  const host = field('source_hostname');
  return {
    text: JSON.stringify({
      summary: `${who} logged in to ${host} from ${ip}`,
      iocs: [
        { ioc_type: 'ip', value: ip },
        { ioc_type: 'user', value: who },
      ],
    }),
  };
}

function leaks(body: string): string[] {
  const lower = body.toLowerCase();
  return REAL_VALUES.filter((v) => lower.includes(v.toLowerCase()));
}

describe('pseudonymisation on the wire', () => {
  let openai: FakeLlmServer;
  let bedrock: FakeLlmServer;
  beforeAll(async () => {
    openai = await startFakeOpenAi();
    bedrock = await startFakeBedrock();
  });
  afterAll(async () => {
    await openai?.close();
    await bedrock?.close();
  });

  const openaiConfig = (pseudonymise: 'always' | 'never' | 'auto') =>
    AnalystConfig.parse({ backend: 'openai', pseudonymise, openai: { url: `${openai.url}/v1` } });

  it('never sends a real value (scanning the captured request body) and restores them in the verdict', async () => {
    openai.reset();
    openai.script({ respond: (req) => answerWithTokens(req, openai) });
    const llm = createLlmBackend(openaiConfig('always'), testContext())!;
    const result = await llm.complete(alertRequest());
    const body = openai.requests[0]!.rawBody;
    expect(leaks(body)).toEqual([]);
    // The tokens arrived, consistently: the same IP in source_ip and raw_log is one token.
    const { user } = openai.adapter.promptOf(openai.requests[0]!);
    expect(user).toMatch(/"source_ip":"⟦DATA [a-z]+⟧IP_1⟦/);
    expect(user).toMatch(/user.USER_\d+.from.IP_1.port/u);
    expect(body).toContain('private IPv4 (RFC 1918)');
    expect(result.json).toEqual({
      summary: 'John Smith logged in to bastion-01.corp.example.com from 203.0.113.45',
      iocs: [
        { ioc_type: 'ip', value: '203.0.113.45' },
        { ioc_type: 'user', value: 'John Smith' },
      ],
    });
    expect(result.raw).toContain('203.0.113.45');
  });

  it('sends the real values when pseudonymisation is off (the scan can fail)', async () => {
    openai.reset();
    openai.script({ respond: (req) => answerWithTokens(req, openai) });
    const llm = createLlmBackend(openaiConfig('never'), testContext())!;
    await llm.complete(alertRequest());
    expect(leaks(openai.requests[0]!.rawBody)).toEqual(REAL_VALUES);
  });

  it('auto: off for a loopback endpoint, on for Bedrock (remote by nature)', async () => {
    openai.reset();
    openai.script({ respond: (req) => answerWithTokens(req, openai) });
    await createLlmBackend(openaiConfig('auto'), testContext())!.complete(alertRequest());
    expect(leaks(openai.requests[0]!.rawBody).length).toBeGreaterThan(0);

    bedrock.reset();
    bedrock.script({ respond: (req) => answerWithTokens(req, bedrock) });
    const config = AnalystConfig.parse({
      backend: 'bedrock',
      bedrock: { endpoint: bedrock.url, access_key_id_env: 'K', secret_access_key_env: 'S' },
    });
    const env = { K: BEDROCK_TEST_CREDENTIALS.accessKeyId, S: BEDROCK_TEST_CREDENTIALS.secretAccessKey };
    const result = await createLlmBackend(config, { ...testContext(), env })!.complete(alertRequest());
    expect(bedrock.requests[0]!.wireErrors).toEqual([]);
    expect(leaks(bedrock.requests[0]!.rawBody)).toEqual([]);
    expect((result.json as { summary: string }).summary).toBe(
      'John Smith logged in to bastion-01.corp.example.com from 203.0.113.45',
    );
  });

  it('keeps the backend identity and leaves the caller request untouched', async () => {
    openai.reset();
    openai.script({ respond: (req) => answerWithTokens(req, openai) });
    const inner = createLlmBackend(openaiConfig('never'), testContext())!;
    const wrapped = withPseudonymisation(inner);
    expect([wrapped.name, wrapped.model, wrapped.local]).toEqual([inner.name, inner.model, inner.local]);
    const request = alertRequest();
    const before = JSON.stringify(request);
    await wrapped.complete(request);
    expect(JSON.stringify(request)).toBe(before);
  });
});
