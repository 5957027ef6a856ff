import { describe, expect, it } from 'vitest';
import { isLocalEndpoint } from './local.ts';
import { retryAfterMs } from './upstream.ts';

describe('isLocalEndpoint', () => {
  it.each([
    ['http://127.0.0.1:11434', true],
    ['http://localhost:8080/v1', true],
    ['http://[::1]:8000', true],
    ['http://10.2.3.4', true],
    ['http://172.20.0.5', true],
    ['http://172.32.0.5', false],
    ['http://192.168.1.20:1234/v1', true],
    ['http://100.100.1.1', true],
    ['http://[fd12:3456::1]', true],
    ['http://[::ffff:10.0.0.1]', true],
    ['http://gpu-box.local:11434', true],
    ['http://vllm.internal', true],
    ['https://api.openai.com/v1', false],
    ['https://8.8.8.8', false],
    ['https://[2001:4860::8888]', false],
    ['not a url', false],
  ])('%s → %s', (url, local) => {
    expect(isLocalEndpoint(url)).toBe(local);
  });
});

describe('retryAfterMs', () => {
  const headers = (h: Record<string, string>) => (n: string) => h[n];
  it('reads seconds, HTTP dates and retry-after-ms, never negative', () => {
    expect(retryAfterMs(headers({ 'retry-after': '2' }))).toBe(2000);
    expect(retryAfterMs(headers({ 'retry-after': '0.5' }))).toBe(500);
    expect(retryAfterMs(headers({ 'retry-after-ms': '750', 'retry-after': '9' }))).toBe(750);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs(headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' }), now)).toBe(5000);
    expect(retryAfterMs(headers({ 'retry-after': 'Wed, 31 Dec 2025 00:00:00 GMT' }), now)).toBe(0);
    expect(retryAfterMs(headers({ 'retry-after': 'soon' }))).toBeUndefined();
    expect(retryAfterMs(headers({}))).toBeUndefined();
  });
});
