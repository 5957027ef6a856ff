import { describe, expect, it } from 'vitest';
import { makeEvent } from '../../../test/helpers/builders.ts';
import { parseSection } from '../../config/sections.ts';
import { AisocError } from '../../errors.ts';
import { Detection } from '../../schema/alert.ts';
import { type NormalisedEvent, ocsfClass } from '../../schema/event.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { createMetrics } from '../../telemetry/metrics.ts';
import {
  type AlertCandidate,
  type Detector,
  type DetectorContext,
  type DetectorFactory,
  isWindowFeed,
} from '../types.ts';

export interface DetectorConformanceOptions {
  /** The registry entry under test. */
  factory: DetectorFactory<unknown>;
  /** Its section `detect.<type>` (default `{}`, parsed by its `configSchema`). */
  section?: unknown;
  /** Context over the suite's (a silent logger, fresh metrics, `upstream_min_severity: medium`); the ML detector needs `ml`. */
  ctx?: Partial<DetectorContext>;
  /** Events it must raise at least one candidate on (one batch). Without them the suite checks only what it does with ordinary events. */
  fires?: () => NormalisedEvent[];
}

/** Ordinary events of several sources: a detector must take them without throwing. */
function ordinaryEvents(): NormalisedEvent[] {
  return [
    makeEvent(),
    makeEvent({ activity_name: 'ConsoleLogin', status: 'failure' }),
    makeEvent({ source: 'syslog', ...ocsfClass(1007), cloud: undefined, activity_name: 'sshd' }),
    makeEvent({ source: 'suricata', ...ocsfClass(4001), src_endpoint: { ip: '10.0.0.5', port: 51514 } }),
    makeEvent({ raw: 'a plain text record', observables: [] }),
  ];
}

/**
 * The shared conformance suite every detector kind passes, built from its
 * registry entry as the runtime builds it: the entry declares a type and a
 * description; its section (when it has one) takes every default and
 * refuses an unknown key naming `detect.<type>.<key>`; its detectors have
 * names, take an empty batch and ordinary events of any source without
 * throwing or changing them, and every candidate is a valid `Detection`
 * citing only events of the batch, which it carries.
 *
 * @example
 * describeDetectorConformance({ factory: upstreamDetectorFactory, fires: () => [eventWithFinding] });
 */
export function describeDetectorConformance(o: DetectorConformanceOptions): void {
  const { factory } = o;
  const build = async (): Promise<Detector[]> => {
    const section = factory.configSchema
      ? parseSection(factory.configSchema, o.section, `detect.${factory.type}`)
      : undefined;
    const ctx: DetectorContext = {
      logger: silentLogger(),
      metrics: createMetrics({ defaultMetrics: false }),
      detect: { upstream_min_severity: 'medium', level_overrides: {} },
      ...o.ctx,
    };
    return factory.create(section, ctx);
  };

  /** Run every detector over one batch and check what comes out. */
  const run = async (detectors: Detector[], batch: NormalisedEvent[]): Promise<AlertCandidate[]> => {
    const before = structuredClone(batch);
    const ids = new Set(batch.map((e) => e.id));
    const out: AlertCandidate[] = [];
    for (const d of detectors) out.push(...(await d.detect(batch)));
    expect(batch, 'detectors do not change the events they read').toEqual(before);
    for (const c of out) {
      const parsed = Detection.safeParse(c.detection);
      expect(parsed.success, `${c.detection.rule_id}: ${parsed.error?.message}`).toBe(true);
      expect(c.detection.event_ids.length).toBeGreaterThan(0);
      for (const id of c.detection.event_ids)
        expect(ids.has(id), `cites event ${id} of the batch`).toBe(true);
      expect(c.events.map((e) => e.id).sort()).toEqual([...new Set(c.detection.event_ids)].sort());
    }
    return out;
  };

  describe(`detector ${factory.type}: conformance`, () => {
    it('declares its type and what it detects', () => {
      expect(factory.type).toMatch(/^[a-z][a-z0-9_]*$/);
      expect(factory.description.length).toBeGreaterThan(10);
    });

    if (factory.configSchema) {
      const schema = factory.configSchema;
      it('has a section that takes every default and refuses an unknown key, naming it', () => {
        expect(schema.safeParse({}).success).toBe(true);
        let caught: unknown;
        try {
          parseSection(schema, { no_such_setting: 1 }, `detect.${factory.type}`);
        } catch (err) {
          caught = err;
        }
        expect(caught).toBeInstanceOf(AisocError);
        expect((caught as AisocError).code).toBe('AISOC_ERR_CONFIG');
        expect((caught as AisocError).message).toContain(`detect.${factory.type}`);
        expect((caught as AisocError).message).toContain('no_such_setting');
      });
    }

    it('builds named detectors that take an empty batch and ordinary events of any source', async () => {
      const detectors = await build();
      for (const d of detectors) expect(d.name.length).toBeGreaterThan(0);
      expect(await run(detectors, [])).toEqual([]);
      await run(detectors, ordinaryEvents());
    });

    const fires = o.fires;
    if (fires) {
      it('raises valid candidates, citing only events of the batch, on what it detects', async () => {
        const detectors = await build();
        expect(detectors.length).toBeGreaterThan(0);
        expect((await run(detectors, fires())).length).toBeGreaterThan(0);
      });
    }

    it('in the pipeline form of a detector with windows, keeps no state: the same batch gives the same outputs, window steps its own windows take', async () => {
      const batch = [...ordinaryEvents(), ...(fires?.() ?? [])];
      for (const d of await build()) {
        if (!d.windowed) continue;
        const first = await d.windowed.detect(batch);
        expect(await d.windowed.detect(batch), 'a second run gives the same outputs').toEqual(first);
        const windows = d.windowed.windows();
        const ids = new Set(batch.map((e) => e.id));
        const steps = first.filter(isWindowFeed);
        for (const f of steps) {
          expect(f.detector).toBe(windows.detector);
          expect(ids.has(f.event.id), `step of event ${f.event.id} of the batch`).toBe(true);
        }
        for (const c of windows.offer(steps)) expect(Detection.safeParse(c.detection).success).toBe(true);
      }
    });
  });
}
