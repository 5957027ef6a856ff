import { describe, expect, it } from 'vitest';
import { jsonThread } from './json-thread.ts';

const bytes = (s: string) => Buffer.from(s, 'utf8');

describe('jsonThread', () => {
  it('parses one JSON value, a byte-order mark and surrounding space allowed', async () => {
    const value = { Records: [{ eventName: 'CreateUser', userAgent: 'a'.repeat(2_000_000) }], n: 1.5 };
    expect(await jsonThread.parse(bytes(`\ufeff  ${JSON.stringify(value)}\n`))).toEqual({ ok: true, value });
  });

  it('returns a long array whole and in order, though it comes back in parts', async () => {
    const value = Array.from({ length: 4321 }, (_, i) => ({ i, s: `record ${i}` }));
    const r = await jsonThread.parse(bytes(JSON.stringify(value)));
    expect(r).toEqual({ ok: true, value });
  });

  it('answers "not parsed" for NDJSON, malformed, truncated and empty bodies, so the caller parses inline', async () => {
    for (const body of ['{"a":1}\n{"a":2}', '{"a":', '[1, 2', '', '   ', '\u0000\u0001', 'null garbage']) {
      const r = await jsonThread.parse(bytes(body));
      expect(r.ok, JSON.stringify(body)).toBe(false);
      expect((r as { bytes: Buffer }).bytes.toString(), 'the bytes come back').toBe(body);
    }
  });

  it('moves a buffer that owns its memory to the thread and hands it back when it cannot parse it', async () => {
    const body = `${'{"a":1}\n'.repeat(200_000)}{"a":`;
    const owned = Buffer.alloc(Buffer.byteLength(body));
    owned.write(body);
    const r = await jsonThread.parse(owned);
    // Moved, not copied: the caller's view is empty now, and the answer carries the bytes.
    expect(owned.length).toBe(0);
    expect(r.ok).toBe(false);
    expect((r as { bytes: Buffer }).bytes.toString()).toBe(body);
    const good = Buffer.alloc(20);
    good.write('{"moved": true}');
    expect(await jsonThread.parse(Buffer.from(good.subarray(0, 15)))).toEqual({
      ok: true,
      value: { moved: true },
    });
  });

  it('serves concurrent callers each with their own value', async () => {
    const values = Array.from({ length: 20 }, (_, i) => ({ caller: i, pad: 'x'.repeat(i * 1000) }));
    const results = await Promise.all(values.map((v) => jsonThread.parse(bytes(JSON.stringify(v)))));
    expect(results).toEqual(values.map((value) => ({ ok: true, value })));
  });

  it('with scrub, drops "__proto__" keys and "constructor" keys holding a prototype, as Fastify does', async () => {
    const text =
      '{"a":{"__proto__":{"polluted":1},"keep":2},"b":[{"constructor":{"prototype":{"x":1}}},{"constructor":"text"}],"c":{"\\u005f_proto__":{"p":1}}}';
    const r = await jsonThread.parse(bytes(text), { scrub: true });
    expect(r.ok).toBe(true);
    const v = (r as { value: Record<string, unknown> }).value;
    expect(Object.hasOwn(v.a as object, '__proto__')).toBe(false);
    expect(v.a).toEqual({ keep: 2 });
    expect((v.b as unknown[])[0]).toEqual({});
    expect((v.b as unknown[])[1]).toEqual({ constructor: 'text' });
    expect(Object.hasOwn(v.c as object, '__proto__')).toBe(false);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // Without scrub the value is as JSON.parse gives it.
    const raw = await jsonThread.parse(bytes(text));
    expect(Object.hasOwn((raw as { value: { a: object } }).value.a, '__proto__')).toBe(true);
  });
});
