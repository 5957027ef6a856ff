/**
 * Levels set by configuration (`detect.level_overrides`), by rule id or
 * title, for every rule: Sigma rules take theirs when they compile
 * (`sigma/ruleset.ts`, where `detect.sigma.level_overrides` is read first),
 * rules written as code (engine `rule`) on each detection, here. Models and
 * upstream verdicts keep their own levels.
 */
import { z } from 'zod';
import type { Detection } from '../schema/alert.ts';
import { SeverityName } from '../schema/common.ts';
import type { AlertCandidate, DetectOutput, Detector } from './types.ts';

/** The schema of an overrides map: rule id or title → level. */
export const LevelOverrides = z.record(z.string().min(1).max(1024), SeverityName);
export type LevelOverrides = z.infer<typeof LevelOverrides>;

/** The engines whose detections {@link withLevelOverrides} sets (Sigma rules are set where they compile). */
const CODE_ENGINES: ReadonlySet<Detection['engine']> = new Set(['rule']);

/**
 * The level configured for a rule: by its id, else by its title; undefined
 * when neither is named.
 *
 * @example overrideOf({ 'Root login': 'low' }, 'r-1', 'Root login') // 'low'
 */
export function overrideOf(
  overrides: Readonly<Record<string, SeverityName>>,
  id: string,
  title: string,
): SeverityName | undefined {
  if (Object.hasOwn(overrides, id)) return overrides[id];
  if (Object.hasOwn(overrides, title)) return overrides[title];
  return undefined;
}

/**
 * Set a detection's level, recording the rule's own level (`rule_level`,
 * kept when an earlier step already moved it) and why (`level_reasons`).
 * Nothing is recorded when the level is already the one set.
 */
export function setLevel(d: Detection, level: SeverityName, reason: string): void {
  if (d.level === level) return;
  d.rule_level ??= d.level;
  d.level_reasons = [...(d.level_reasons ?? []), reason];
  d.level = level;
}

/** Apply the overrides to candidates of code rules, in place. */
export function overrideLevels(
  candidates: readonly AlertCandidate[],
  overrides: Readonly<Record<string, SeverityName>>,
): void {
  for (const c of candidates) {
    const d = c.detection;
    if (!CODE_ENGINES.has(d.engine)) continue;
    const level = overrideOf(overrides, d.rule_id, d.rule_title);
    if (level !== undefined) setLevel(d, level, `set to ${level} by detect.level_overrides`);
  }
}

function isCandidate(o: DetectOutput): o is AlertCandidate {
  return (o as Partial<AlertCandidate>).detection !== undefined;
}

/**
 * A detector whose code-rule detections take the configured levels, and
 * whose rule list shows them; the detector itself when nothing is
 * configured. Both forms (`detect` and `windowed.detect`) are covered.
 *
 * @example withLevelOverrides(resourcePolicyDetector(), { 'Resource policy grants…': 'low' })
 */
export function withLevelOverrides(
  detector: Detector,
  overrides: Readonly<Record<string, SeverityName>>,
): Detector {
  if (Object.keys(overrides).length === 0) return detector;
  const apply = <T extends DetectOutput>(out: T[]): T[] => {
    const candidates: AlertCandidate[] = [];
    for (const o of out) if (isCandidate(o)) candidates.push(o);
    overrideLevels(candidates, overrides);
    return out;
  };
  const { windowed, rules } = detector;
  return {
    name: detector.name,
    detect(events) {
      const out = detector.detect(events);
      return out instanceof Promise ? out.then(apply) : apply(out);
    },
    ...(windowed
      ? {
          windowed: {
            detect(events) {
              const out = windowed.detect(events);
              return out instanceof Promise ? out.then(apply) : apply(out);
            },
            windows: () => windowed.windows(),
          },
        }
      : {}),
    ...(rules
      ? {
          rules: () =>
            rules.call(detector).map((r) => {
              const level = CODE_ENGINES.has(r.engine) ? overrideOf(overrides, r.id, r.title) : undefined;
              return level === undefined ? r : { ...r, level };
            }),
        }
      : {}),
  };
}
