import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { AisocError } from '../../errors.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { createMetrics } from '../../telemetry/metrics.ts';
import { baseConfigShape, defineAction } from './define.ts';
import { actionKey, canonicalJson } from './key.ts';
import { actionMetrics, RUN_OUTCOMES } from './metrics.ts';
import { REDACTED, Redactor } from './redact.ts';
import { backoffMs, parseRetryAfter, withRetry } from './retry.ts';
import type { ActionImpl } from './types.ts';

describe('canonical JSON and action keys', () => {
  it('sorts keys at every level and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: [2, { d: 3, c: undefined }], e: null })).toBe(
      '{"a":[2,{"d":3}],"b":1,"e":null}',
    );
  });

  it('keys differ by type and by input, and not by key order', () => {
    const k = actionKey('a.b', { x: 1, y: [1, 2] });
    expect(k).toMatch(/^[0-9a-f]{64}$/);
    expect(actionKey('a.b', { y: [1, 2], x: 1 })).toBe(k);
    expect(actionKey('a.c', { x: 1, y: [1, 2] })).not.toBe(k);
    expect(actionKey('a.b', { x: 1, y: [2, 1] })).not.toBe(k);
  });
});

describe('Redactor', () => {
  it('withholds registered secrets inside any string, and secret-named fields whole', () => {
    const r = new Redactor();
    r.add('s3cr3t-token-value');
    r.add('abc');
    const out = r.value({
      message: 'POST https://hooks.example/s3cr3t-token-value failed',
      nested: [{ password: 'x', text: 'abc is fine' }],
      routing_key: 'R123',
      access_key_id: 'AKIAIOSFODNN7EXAMPLE',
      when: new Date('2026-01-01T00:00:00Z'),
    });
    expect(out).toEqual({
      message: `POST https://hooks.example/${REDACTED} failed`,
      nested: [{ password: REDACTED, text: 'abc is fine' }],
      routing_key: REDACTED,
      access_key_id: 'AKIAIOSFODNN7EXAMPLE',
      when: '2026-01-01T00:00:00.000Z',
    });
  });
});

describe('retry', () => {
  const policy = { max_attempts: 3, base_delay_ms: 1, max_delay_ms: 4 };

  it('retries what classify allows, up to max_attempts, and rethrows the last error', async () => {
    let n = 0;
    const err = await withRetry(
      async () => {
        n++;
        throw new Error(`e${n}`);
      },
      { policy, signal: new AbortController().signal, classify: () => ({ retry: true }) },
    ).catch((e: Error) => e);
    expect(n).toBe(3);
    expect(err.message).toBe('e3');
  });

  it('does not retry a final error', async () => {
    let n = 0;
    await withRetry(
      async () => {
        n++;
        throw new Error('final');
      },
      { policy, signal: new AbortController().signal, classify: () => ({ retry: false }) },
    ).catch(() => undefined);
    expect(n).toBe(1);
  });

  it('stops waiting when the signal aborts', async () => {
    const ac = new AbortController();
    const p = withRetry(
      async () => {
        throw new Error('busy');
      },
      {
        policy: { max_attempts: 5, base_delay_ms: 60_000, max_delay_ms: 60_000 },
        signal: ac.signal,
        classify: () => ({ retry: true, retryAfterMs: 60_000 }),
      },
    );
    ac.abort(new Error('cancelled'));
    await expect(p).rejects.toThrow(/busy|cancelled/);
  });

  it('bounds back-off by max_delay_ms and honours Retry-After up to it', () => {
    for (let a = 1; a < 10; a++) expect(backoffMs(a, policy)).toBeLessThanOrEqual(4);
    expect(backoffMs(1, { ...policy, max_delay_ms: 1000 }, 700)).toBeGreaterThanOrEqual(700);
    expect(parseRetryAfter('3')).toBe(3000);
    expect(
      parseRetryAfter(new Date(Date.UTC(2030, 0, 1, 0, 0, 10)).toUTCString(), Date.UTC(2030, 0, 1)),
    ).toBe(10_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});

describe('the shared wrapper', () => {
  const make = (impl: ActionImpl<{ n: number }>, effect: 'read-only' | 'reversible' = 'read-only') =>
    defineAction({
      type: 'test.thing',
      description: 'A test action for the wrapper',
      effect,
      configSchema: z.strictObject({ ...baseConfigShape, token_env: z.string().default('TEST_TOKEN') }),
      inputSchema: z.strictObject({ n: z.number().int().describe('A number') }),
      build: (config, ctx) => {
        ctx.secret(config.token_env, 'token_env');
        return impl;
      },
    });
  const ctx = (metrics = createMetrics({ defaultMetrics: false })) => ({
    logger: silentLogger(),
    metrics,
    env: { TEST_TOKEN: 'tok-0123456789' },
  });
  const opts = { dryRun: false, idempotencyKey: 'k' };

  it('times a run out with AISOC_ERR_ACTION_TIMEOUT and counts it as failed', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const a = make({
      execute: (_i, run) =>
        new Promise((_resolve, reject) =>
          run.signal.addEventListener('abort', () => reject(run.signal.reason)),
        ),
    }).create({ timeout_ms: 100 }, ctx(metrics));
    const err = await a.execute({ n: 1 }, opts).catch((e: unknown) => e);
    expect((err as AisocError).code).toBe('AISOC_ERR_ACTION_TIMEOUT');
    const values = (await actionMetrics(metrics).actions.get()).values;
    expect(values.filter((v) => v.value > 0)).toEqual([
      expect.objectContaining({ labels: { type: 'test.thing', outcome: 'failed' }, value: 1 }),
    ]);
    // Every outcome of a run is listed from the action's creation, at zero until it happens (alerts divide by them).
    expect(values.map((v) => v.labels.outcome).sort()).toEqual([...RUN_OUTCOMES].sort());
  });

  it('blocks a state-changing call in a dry run, and a dry run that claims a change', async () => {
    const sneaky = make({
      async execute(_i, run) {
        run.assertMayMutate('Delete everything');
        return { status: 'succeeded', summary: 'done it', details: {} };
      },
    }).create({}, ctx());
    const err = await sneaky.execute({ n: 1 }, { ...opts, dryRun: true }).catch((e: unknown) => e);
    expect((err as AisocError).code).toBe('AISOC_ERR_INTERNAL');
    expect((err as AisocError).message).toContain('Delete everything during a dry run');
    const liar = make({
      execute: async () => ({ status: 'succeeded', summary: 'changed', details: {} }),
    }).create({}, ctx());
    expect(
      ((await liar.execute({ n: 1 }, { ...opts, dryRun: true }).catch((e: unknown) => e)) as AisocError).code,
    ).toBe('AISOC_ERR_INTERNAL');
  });

  it('turns untyped failures into AISOC_ERR_ACTION_FAILED with secrets withheld and no cause', async () => {
    const a = make({
      execute: async () => {
        throw new Error('request with tok-0123456789 failed');
      },
    }).create({}, ctx());
    const err = (await a.execute({ n: 1 }, opts).catch((e: unknown) => e)) as AisocError;
    expect(err.code).toBe('AISOC_ERR_ACTION_FAILED');
    expect(err.message).toBe(`test.thing failed: request with ${REDACTED} failed`);
    expect(err.cause).toBeUndefined();
  });

  it('keeps rollback data only for reversible actions, and only as JSON', async () => {
    const impl: ActionImpl<{ n: number }> = {
      execute: async () => ({
        status: 'succeeded',
        summary: 'changed',
        details: { at: new Date(0) },
        rollback_data: { f: () => 1, n: 1 },
      }),
      rollback: async () => ({ status: 'succeeded', summary: 'undone', details: {} }),
    };
    const rev = await make(impl, 'reversible').create({}, ctx()).execute({ n: 1 }, opts);
    expect(rev.rollback_data).toEqual({ n: 1 });
    expect(rev.details).toEqual({ at: '1970-01-01T00:00:00.000Z' });
    const ro = await make({ execute: impl.execute }).create({}, ctx()).execute({ n: 1 }, opts);
    expect(ro.rollback_data).toBeUndefined();
  });

  it('refuses at creation a reversible action without rollback, and a missing secret', () => {
    expect(() =>
      make({ execute: async () => ({ status: 'skipped', summary: 'x', details: {} }) }, 'reversible').create(
        {},
        ctx(),
      ),
    ).toThrow(/rollback must exist/);
    let caught: unknown;
    try {
      make({ execute: async () => ({ status: 'skipped', summary: 'x', details: {} }) }).create(
        {},
        { logger: silentLogger(), env: {} },
      );
    } catch (e) {
      caught = e;
    }
    expect((caught as AisocError).code).toBe('AISOC_ERR_CONFIG');
    expect((caught as AisocError).field).toBe('token_env');
  });
});
