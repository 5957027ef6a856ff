import { describe, expect, it } from 'vitest';
import { Redactor } from './redact.ts';

describe('Redactor', () => {
  const secret = 'sk-live-9f8e7d6c5b4a39281706';
  const r = new Redactor([secret, 'abc']);

  it('removes known secrets in plain, URL-encoded and JSON-escaped forms', () => {
    const weird = 'p@ss/w"rd+key==';
    const w = new Redactor([weird]);
    expect(w.redact(`a ${weird} b ${encodeURIComponent(weird)} c ${JSON.stringify(weird)}`)).toBe(
      'a [redacted] b [redacted] c "[redacted]"',
    );
    expect(r.redact(`Incorrect API key provided: ${secret}.`)).toBe(
      'Incorrect API key provided: [redacted].',
    );
  });

  it('removes credential-shaped text it was not told about', () => {
    expect(r.redact('authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig')).toBe(
      'authorization: Bearer [redacted]',
    );
    expect(r.redact('key sk-proj-abcdefghijklmnop1234 used')).toBe('key [redacted] used');
    expect(
      r.redact(
        'AWS4-HMAC-SHA256 Credential=AKIAXXXX/20260101/us-east-1/bedrock/aws4_request, Signature=0123456789abcdef0123456789abcdef',
      ),
    ).toBe('AWS4-HMAC-SHA256 Credential=[redacted], Signature=[redacted]');
    expect(r.redact('GET http://user:hunter2@proxy.local/v1')).toBe('GET http://[redacted]@proxy.local/v1');
    expect(r.redact('{"api_key": "s3cr3t-value"}')).toBe('{"api_key": "[redacted]"}');
  });

  it('ignores values too short to be secrets and redacts deep values', () => {
    expect(r.redact('abc is a word')).toBe('abc is a word');
    expect(r.redactDeep({ a: [secret], b: { c: `x ${secret}` }, n: 1 })).toEqual({
      a: ['[redacted]'],
      b: { c: 'x [redacted]' },
      n: 1,
    });
  });
});
