import { describe, expect, it } from 'vitest';
import type { NormalisedEvent } from '../../schema/event.ts';
import type { AlertCandidate, DetectOutput, WindowFeed } from '../types.ts';
import { SigmaEngine } from './engine.ts';
import { type SigmaMatch, sigmaDetector } from './index.ts';
import { ruleSetFromText, testEvent } from './testing.ts';
import { SigmaWindows } from './windows.ts';

/*
 * The pipeline's correlation windows (SigmaWindows, run by the correlate
 * stage over the detect stage's window steps) against the offline engine:
 * in event order they fire exactly as the engine does; out of order, a late
 * match within the window still counts; their state survives a save and a
 * restore into another instance.
 */

const RULES = `title: Failed login
id: failed
name: failed_login
logsource: {product: test, service: auth}
detection:
  sel: {outcome: failure}
  condition: sel
level: low
---
title: Successful login
id: success
name: successful_login
logsource: {product: test, service: auth}
detection:
  sel: {outcome: success}
  condition: sel
level: low
---
title: Brute force
id: brute
name: brute_force
correlation:
  type: event_count
  rules: [failed_login]
  group-by: [src]
  timespan: 5m
  condition: {gte: 4}
  generate: false
level: high
---
title: Spray
id: spray
correlation:
  type: value_count
  rules: [failed_login]
  group-by: [src]
  timespan: 10m
  condition: {field: user, gte: 3}
level: medium
---
title: Both
id: both
correlation:
  type: temporal
  rules: [successful_login, failed_login]
  group-by: [user]
  timespan: 1m
level: low
---
title: Brute force then success
id: chain
correlation:
  type: temporal_ordered
  rules: [brute_force, successful_login]
  group-by: [src]
  timespan: 10m
level: critical
`;

const ruleSet = () => ruleSetFromText(RULES);
const LIMITS = { maxGroups: 1000, maxEvents: 100 };
const t0 = Date.parse('2024-05-01T12:00:00Z');
const login = (outcome: string, src: string, user: string, atSeconds: number) =>
  testEvent(
    { outcome, src, user },
    { time: new Date(t0 + atSeconds * 1000).toISOString(), metadata: { log_name: 'auth' } },
  );

/** A deterministic shuffle (mulberry32). */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  let a = seed >>> 0;
  const rand = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const feedsOf = (outputs: DetectOutput[]) => outputs.filter((o): o is WindowFeed => 'kind' in o);
const correlationHits = (cs: AlertCandidate[]) =>
  cs
    .filter((c) => ['brute', 'spray', 'both', 'chain'].includes(c.detection.rule_id))
    .map((c) => ({ rule: c.detection.rule_id, events: c.events.map((e) => e.id).sort() }));
const engineHits = (ms: SigmaMatch[]) =>
  ms
    .filter((m) => m.rule.kind === 'correlation')
    .map((m) => ({ rule: m.rule.id, events: m.events.map((e) => e.id).sort() }));

/** Run events through the pipeline's split: detect steps on `detectors` engines (round robin), windows over the steps. */
function pipelineRun(batches: NormalisedEvent[][], windows: SigmaWindows, detectors = 1): AlertCandidate[] {
  const engines = Array.from({ length: detectors }, () => sigmaDetector(new SigmaEngine(ruleSet())));
  const out: AlertCandidate[] = [];
  batches.forEach((batch, i) => {
    const outputs = engines[i % detectors]!.windowed!.detect(batch) as DetectOutput[];
    out.push(...(outputs.filter((o) => !('kind' in o)) as AlertCandidate[]));
    out.push(...windows.offer(feedsOf(outputs)));
  });
  return out;
}

describe('the pipeline correlation windows', () => {
  it('fire exactly as the offline engine does on events in order', () => {
    // Random traffic over a few sources and users, in event time.
    const events: NormalisedEvent[] = [];
    let at = 0;
    for (let i = 0; i < 400; i++) {
      at += (i * 7919) % 23;
      const outcome = (i * 31) % 9 === 0 ? 'success' : 'failure';
      events.push(login(outcome, `10.0.0.${(i * 13) % 4}`, `u${(i * 17) % 5}`, at));
    }
    const offline = engineHits(new SigmaEngine(ruleSet()).process(events));
    expect(offline.length).toBeGreaterThan(10);
    const windows = new SigmaWindows(ruleSet().correlations, LIMITS);
    const piped = correlationHits(pipelineRun(chunks(events, 37), windows));
    expect(piped).toEqual(offline);
  });

  it('count a brute force whose events arrive out of order, spread over three detect instances', () => {
    const burst = Array.from({ length: 4 }, (_, i) => login('failure', '10.9.9.9', 'root', i * 30));
    const other = [login('failure', '10.9.9.8', 'root', 10), login('failure', '10.9.9.8', 'root', 20)];
    for (const seed of [1, 2, 3, 4, 5]) {
      const windows = new SigmaWindows(ruleSet().correlations, LIMITS);
      const batches = chunks(shuffled([...burst, ...other], seed), 1);
      const hits = correlationHits(pipelineRun(batches, windows, 3));
      // The brute force only feeds the chain: the spray (distinct users) and the chain do not fire either.
      expect(hits).toEqual([]);
      const success = login('success', '10.9.9.9', 'root', 200);
      const chain = correlationHits(pipelineRun([[success]], windows));
      expect(chain, `seed ${seed}`).toEqual([
        { rule: 'chain', events: [...burst.map((e) => e.id), success.id].sort() },
      ]);
    }
  });

  it('report the same groups, once each, however bursts are shuffled over batches', () => {
    // Per source a burst of 1 to 7 failures within four minutes, by 1 to 4 users: some reach the spray (3 users).
    const events: NormalisedEvent[] = [];
    for (let g = 0; g < 30; g++) {
      const n = 1 + ((g * 5) % 7);
      for (let k = 0; k < n; k++)
        events.push(login('failure', `10.7.0.${g}`, `u${k % (1 + (g % 4))}`, g * 7 + k * 30));
    }
    const offline = new SigmaEngine(ruleSet()).process(events);
    const fired = (hits: Array<{ rule: string; group?: string }>) =>
      hits.map((h) => `${h.rule} ${h.group}`).sort();
    const expected = fired(
      offline
        .filter((m) => m.rule.kind === 'correlation')
        .map((m) => ({ rule: m.rule.id, group: m.group?.src })),
    );
    expect(expected.length).toBeGreaterThan(5);
    for (const seed of [11, 12, 13]) {
      const windows = new SigmaWindows(ruleSet().correlations, LIMITS);
      const got = pipelineRun(chunks(shuffled(events, seed), 9), windows, 3)
        .filter((c) => c.detection.rule_id === 'spray')
        .map((c) => ({ rule: 'spray', group: (c.events[0]?.raw as { src?: string } | undefined)?.src }));
      expect(fired(got), `seed ${seed}`).toEqual(expected);
    }
  });

  it('let a late step complete an ordered sequence: the success arrives before the brute force is complete', () => {
    const windows = new SigmaWindows(ruleSet().correlations, LIMITS);
    const fails = Array.from({ length: 4 }, (_, i) => login('failure', '10.1.1.1', 'admin', i * 10));
    const success = login('success', '10.1.1.1', 'admin', 120);
    expect(correlationHits(pipelineRun([[success], fails.slice(0, 2)], windows))).toEqual([]);
    const hits = correlationHits(pipelineRun([fails.slice(2)], windows));
    expect(hits).toEqual([{ rule: 'chain', events: [...fails, success].map((e) => e.id).sort() }]);
  });

  it('count a late match within the window it belongs to, and not one later than the lateness allowed', () => {
    const spray = (user: string, at: number) => login('failure', '10.2.2.2', user, at);
    const late = spray('c', 120);
    // Two users at minutes 0 and 1, then one at minute 15: no ten-minute window holds three.
    const windows = new SigmaWindows(ruleSet().correlations, LIMITS);
    const first = [spray('a', 0), spray('b', 60), spray('z', 900)];
    expect(correlationHits(pipelineRun([first], windows))).toEqual([]);
    // A third user at minute 2, arriving late: the first window now holds three distinct users.
    const hits = correlationHits(pipelineRun([[late]], windows)).filter((h) => h.rule === 'spray');
    expect(hits).toEqual([{ rule: 'spray', events: [first[0]!.id, first[1]!.id, late.id].sort() }]);
    // The same, but the third user at minute 40: the late one is more than a timespan older than it.
    const behind = new SigmaWindows(ruleSet().correlations, LIMITS);
    pipelineRun([[spray('a', 0), spray('b', 60), spray('z', 2400)]], behind);
    expect(correlationHits(pipelineRun([[late]], behind))).toEqual([]);
  });

  it('fire a temporal set completed by a late match as it fires in order', () => {
    const fail = login('failure', '10.3.3.3', 'carol', 0);
    const success = login('success', '10.3.3.4', 'carol', 30);
    const far = login('failure', '10.3.3.5', 'carol', 600);
    const inOrder = new SigmaEngine(ruleSet()).process([fail, success, far]);
    expect(engineHits(inOrder).filter((h) => h.rule === 'both')).toEqual([
      { rule: 'both', events: [fail.id, success.id].sort() },
    ]);
    const windows = new SigmaWindows(ruleSet().correlations, LIMITS);
    // The far failure arrives first: the success alone is ten minutes before it.
    expect(correlationHits(pipelineRun([[success, far]], windows))).toEqual([]);
    // The late failure at 0 is within a minute of the success.
    expect(correlationHits(pipelineRun([[fail]], windows)).filter((h) => h.rule === 'both')).toEqual([
      { rule: 'both', events: [fail.id, success.id].sort() },
    ]);
  });

  it('survive a save and a restore into another instance', () => {
    const first = new SigmaWindows(ruleSet().correlations, LIMITS);
    const fails = Array.from({ length: 4 }, (_, i) => login('failure', '10.4.4.4', `x${i}`, i * 10));
    expect(correlationHits(pipelineRun([fails.slice(0, 2)], first))).toEqual([]);
    const saved = first.takeChanges();
    expect(saved.groups.length).toBeGreaterThan(0);
    expect(saved.watermarks).toBeDefined();
    const second = new SigmaWindows(ruleSet().correlations, LIMITS);
    // Through JSON, as the store keeps it.
    const rows = JSON.parse(JSON.stringify(saved.groups));
    second.restore(rows, saved.watermarks!, true);
    expect(second.groups()).toBe(first.groups());
    const hits = correlationHits(pipelineRun([fails.slice(2)], second));
    expect(hits.map((h) => h.rule).sort()).toEqual(['spray']);
    // Nothing changed since the restore is reported as a change.
    const fresh = new SigmaWindows(ruleSet().correlations, LIMITS);
    fresh.restore(rows, saved.watermarks!, true);
    expect(fresh.takeChanges()).toEqual({ groups: [] });
  });

  it('report groups that expire as deleted, and keep memory bounded', () => {
    const windows = new SigmaWindows(ruleSet().correlations, { maxGroups: 20, maxEvents: 5 });
    pipelineRun(
      chunks(
        Array.from({ length: 200 }, (_, i) => login('failure', `10.5.${i >> 8}.${i & 255}`, 'u', i)),
        50,
      ),
      windows,
    );
    expect(windows.groups()).toBeLessThanOrEqual(4 * 20);
    windows.takeChanges();
    // An hour later every earlier group has passed (two timespans of lateness allowed).
    pipelineRun([[login('failure', '10.6.6.6', 'u', 3600)]], windows);
    const changes = windows.takeChanges();
    expect(changes.groups.filter((g) => g.state === null).length).toBeGreaterThan(0);
    expect(changes.groups.filter((g) => g.state !== null).map((g) => g.key)).toEqual(
      expect.arrayContaining(['10.6.6.6']),
    );
  });
});
