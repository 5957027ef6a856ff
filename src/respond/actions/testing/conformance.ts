import { Writable } from 'node:stream';
import fc from 'fast-check';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { AisocError } from '../../../errors.ts';
import { createMetrics } from '../../../telemetry/metrics.ts';
import { actionMetrics, RUN_OUTCOMES } from '../metrics.ts';
import { ACTION_EFFECTS, type Action, type ActionContext, type ActionFactory } from '../types.ts';

/** The fakes behind one conformance test: what they saw, and their state. */
export interface ConformanceHarness {
  /** Context given to `create`: env holding the secrets, a command runner. */
  ctx?: Partial<ActionContext>;
  /** Names of the state-changing calls (or deliveries) the fakes received so far. */
  mutations(): string[] | Promise<string[]>;
  /** Number of calls of any kind the fakes received so far. */
  calls(): number | Promise<number>;
  /** Snapshot of the fake target's state, when the fake can tell; execute then rollback must restore it. */
  state?(): unknown;
  /** From now on, make the target fail (echoing what it received where it can, to test redaction). */
  fail(): void;
  close(): Promise<void>;
}

export interface ActionConformanceOptions {
  factory: ActionFactory;
  /** A valid config (the suite adds an unknown key to check it is refused). */
  config: Record<string, unknown>;
  /** Fresh fakes for one test. */
  harness(): Promise<ConformanceHarness>;
  /** An input the fakes accept and that changes state (or notifies). */
  validInput: Record<string, unknown>;
  /** The same request written differently (key order, case, defaults spelled out): it must share the key. */
  equivalentInput?: Record<string, unknown>;
  /** A different request: its key must differ. */
  otherInput: Record<string, unknown>;
  /** Inputs the schema must refuse, with the field it must name. */
  badInputs: Array<{ input: unknown; field: string }>;
  /** Values that must never appear in results, errors or logs (secrets from the env). */
  secrets?: string[];
  /** Whether executing twice makes the second run `skipped` (the target can tell). */
  repeatSkips?: boolean;
}

/** A logger whose lines are kept, to check them for secrets. */
function capturingLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

/** Description of a schema or of any wrapper around it (optional, default, pipe). */
function describedAnywhere(schema: z.ZodType): boolean {
  let cur: unknown = schema;
  for (let i = 0; i < 6 && cur; i++) {
    const s = cur as z.ZodType & {
      unwrap?: () => unknown;
      _zod: { def: { in?: unknown; innerType?: unknown } };
    };
    if (s.description) return true;
    cur = s._zod.def.innerType ?? s._zod.def.in ?? (typeof s.unwrap === 'function' ? s.unwrap() : undefined);
  }
  return false;
}

/** The field schemas of an object schema, looking through refinements and transforms. */
function objectShape(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  let cur: unknown = schema;
  for (let i = 0; i < 4 && cur; i++) {
    const s = cur as { shape?: Record<string, z.ZodType>; _zod: { def: { in?: unknown } } };
    if (s.shape) return s.shape;
    cur = s._zod.def.in;
  }
  return undefined;
}

const key = (n: number) => `conformance-${n}`;

/**
 * The shared conformance suite every response action passes. It checks the
 * contract (effect declared; rollback exactly when reversible; every input
 * field described; unknown config keys refused), input validation (bad input
 * refused naming the field, before any call; random junk never crashes),
 * idempotency keys (stable, normalised, distinct), dry runs (no state-changing
 * call at all), rollback (execute then rollback restores the fake's state),
 * errors (typed, no secrets) and cancellation.
 *
 * @example
 * describeActionConformance({ factory: disableAccessKeyFactory, config: {}, harness: iamHarness,
 *   validInput: { access_key_id: 'AKIA…' }, otherInput: { access_key_id: 'AKIB…' }, badInputs: [...] });
 */
export function describeActionConformance(o: ActionConformanceOptions): void {
  const { factory } = o;

  async function withAction<T>(
    fn: (a: Action, h: ConformanceHarness, lines: string[], ctx: ActionContext) => Promise<T>,
  ): Promise<T> {
    const h = await o.harness();
    const { logger, lines } = capturingLogger();
    const ctx: ActionContext = { logger, metrics: createMetrics({ defaultMetrics: false }), ...h.ctx };
    try {
      const action = factory.create(o.config, ctx);
      return await fn(action, h, lines, ctx);
    } finally {
      await h.close();
    }
  }

  const expectNoSecrets = (text: string) => {
    for (const s of o.secrets ?? [])
      expect(text.includes(s), `a secret leaked into: ${text.slice(0, 300)}`).toBe(false);
  };

  describe(`action ${factory.type}: conformance`, () => {
    it('declares its contract: effect, rollback exactly when reversible, described input fields', async () => {
      expect(factory.type).toMatch(/^[a-z][a-z0-9]*(\.[a-z][a-z0-9_]*)+$/);
      expect(factory.description.length).toBeGreaterThan(10);
      expect(ACTION_EFFECTS).toContain(factory.effect);
      const shape = objectShape(factory.inputSchema);
      expect(shape, 'the input schema is an object').toBeDefined();
      for (const [name, field] of Object.entries(shape ?? {}))
        expect(describedAnywhere(field), `input field ${name} has a description`).toBe(true);
      await withAction(async (a) => {
        expect(a.type).toBe(factory.type);
        expect(a.effect).toBe(factory.effect);
        expect(typeof a.rollback === 'function').toBe(factory.effect === 'reversible');
      });
    });

    it('refuses an unknown config key, naming it', async () => {
      const h = await o.harness();
      try {
        let caught: unknown;
        try {
          factory.create({ ...o.config, not_a_setting: 1 }, { logger: pino({ level: 'silent' }), ...h.ctx });
        } catch (err) {
          caught = err;
        }
        expect(caught).toBeInstanceOf(AisocError);
        expect((caught as AisocError).code).toBe('AISOC_ERR_CONFIG');
        expect((caught as AisocError).field).toBe('not_a_setting');
      } finally {
        await h.close();
      }
    });

    for (const [i, bad] of o.badInputs.entries()) {
      it(`refuses bad input #${i + 1} naming ${bad.field}, before any call`, async () => {
        await withAction(async (a, h) => {
          const err = await a.execute(bad.input, { dryRun: false, idempotencyKey: key(i) }).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(err).toBeInstanceOf(AisocError);
          expect((err as AisocError).code).toBe('AISOC_ERR_VALIDATION');
          expect((err as AisocError).field).toBe(bad.field);
          expect(await h.calls()).toBe(0);
        });
      });
    }

    it('refuses random junk input with a typed error and no call', async () => {
      await withAction(async (a, h) => {
        await fc.assert(
          fc.asyncProperty(fc.jsonValue({ maxDepth: 4 }), async (junk) => {
            const err = await a.execute(junk, { dryRun: false, idempotencyKey: 'junk' }).then(
              () => undefined,
              (e: unknown) => e,
            );
            expect((err as AisocError).code).toBe('AISOC_ERR_VALIDATION');
          }),
          { numRuns: 60 },
        );
        expect(await h.calls()).toBe(0);
      });
    });

    it('has a stable idempotency key over the normalised input, distinct for another input', async () => {
      await withAction(async (a) => {
        const k1 = a.idempotencyKey(o.validInput);
        expect(k1).toMatch(/^[0-9a-f]{64}$/);
        const reordered = Object.fromEntries(Object.entries(structuredClone(o.validInput)).reverse());
        expect(a.idempotencyKey(reordered)).toBe(k1);
        if (o.equivalentInput) expect(a.idempotencyKey(o.equivalentInput)).toBe(k1);
        expect(a.idempotencyKey(o.otherInput)).not.toBe(k1);
        expect(() => a.idempotencyKey(o.badInputs[0]?.input)).toThrow(AisocError);
      });
    });

    it('makes no state-changing call in a dry run, and says what it would do', async () => {
      await withAction(async (a, h, lines) => {
        const r = await a.execute(o.validInput, { dryRun: true, idempotencyKey: key(100) });
        expect(['dry_run', 'skipped']).toContain(r.status);
        expect(r.summary.length).toBeGreaterThan(10);
        expect(r.rollback_data).toBeUndefined();
        expect(await h.mutations()).toEqual([]);
        expectNoSecrets(JSON.stringify(r) + lines.join(''));
      });
    });

    if (factory.effect === 'reversible') {
      it('execute then rollback returns the target to its prior state', async () => {
        await withAction(async (a, h, lines) => {
          const before = structuredClone(await h.state?.());
          const r = await a.execute(o.validInput, { dryRun: false, idempotencyKey: key(200) });
          expect(r.status).toBe('succeeded');
          expect(r.rollback_data).toBeDefined();
          expect((await h.mutations()).length).toBeGreaterThan(0);
          if (h.state) expect(await h.state()).not.toEqual(before);
          if (o.repeatSkips) {
            const again = await a.execute(o.validInput, { dryRun: false, idempotencyKey: key(200) });
            expect(again.status).toBe('skipped');
          }
          const stored = JSON.parse(JSON.stringify(r.rollback_data));
          const rb = await a.rollback!(o.validInput, stored, { dryRun: false, idempotencyKey: key(200) });
          expect(rb.status).toBe('succeeded');
          if (h.state) expect(await h.state()).toEqual(before);
          expectNoSecrets(JSON.stringify([r, rb]) + lines.join(''));
        });
      });

      it('refuses malformed rollback data with a typed error', async () => {
        await withAction(async (a) => {
          const err = await a.rollback!(
            o.validInput,
            { unexpected: true },
            { dryRun: false, idempotencyKey: 'x' },
          ).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(err).toBeInstanceOf(AisocError);
          expect((err as AisocError).code).toMatch(/^AISOC_ERR_(VALIDATION|ACTION_ROLLBACK_UNSUPPORTED)$/);
        });
      });
    } else {
      it('executes, and offers no rollback', async () => {
        await withAction(async (a, h, lines) => {
          const r = await a.execute(o.validInput, { dryRun: false, idempotencyKey: key(300) });
          expect(['succeeded', 'skipped']).toContain(r.status);
          expect(r.rollback_data).toBeUndefined();
          expect(a.rollback).toBeUndefined();
          if (r.status === 'succeeded') expect((await h.mutations()).length).toBeGreaterThan(0);
          expectNoSecrets(JSON.stringify(r) + lines.join(''));
        });
      });
    }

    it('reports a failing target with a typed error that carries no secret', async () => {
      await withAction(async (a, h, lines) => {
        h.fail();
        const err = await a.execute(o.validInput, { dryRun: false, idempotencyKey: key(400) }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(AisocError);
        expect((err as AisocError).code).toMatch(/^AISOC_ERR_ACTION_/);
        expectNoSecrets(
          `${(err as Error).message} ${JSON.stringify((err as AisocError).toJSON())} ${lines.join('')}`,
        );
        expect((err as Error).cause).toBeUndefined();
      });
    });

    it('stops before any call when the run is already cancelled', async () => {
      await withAction(async (a, h) => {
        const ac = new AbortController();
        ac.abort();
        const err = await a
          .execute(o.validInput, { dryRun: false, idempotencyKey: 'c', signal: ac.signal })
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect((err as AisocError).code).toBe('AISOC_ERR_ACTION_ABORTED');
        expect(await h.calls()).toBe(0);
      });
    });

    it('refuses run options without an idempotency key', async () => {
      await withAction(async (a, h) => {
        const err = await a
          .execute(o.validInput, { dryRun: false } as unknown as Parameters<Action['execute']>[1])
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect((err as AisocError).field).toBe('options.idempotencyKey');
        expect(await h.calls()).toBe(0);
      });
    });

    it('counts runs in aisoc_actions_total by type and outcome', async () => {
      await withAction(async (a, _h, _lines, ctx) => {
        await a.execute(o.validInput, { dryRun: true, idempotencyKey: key(500) });
        const metric = await actionMetrics(ctx.metrics!).actions.get();
        const mine = metric.values.filter((v) => v.labels.type === factory.type);
        const counted = mine.filter((v) => v.value > 0);
        expect(counted).toHaveLength(1);
        expect(counted[0]!.value).toBe(1);
        expect(['dry_run', 'skipped']).toContain(counted[0]!.labels.outcome);
        // Every outcome of a run is listed from the action's creation, at zero until it happens.
        expect(mine.map((v) => v.labels.outcome)).toEqual(expect.arrayContaining([...RUN_OUTCOMES]));
      });
    });
  });
}
