import { type SeverityName, severityRank } from '../schema/common.ts';
import type { NormalisedEvent } from '../schema/event.ts';
import type { AlertCandidate, Detector, DetectorFactory } from './types.ts';

/**
 * Passes through verdicts the upstream product already reached (a Wazuh rule,
 * a Suricata signature, a GuardDuty finding) when they reach `minSeverity`.
 */
export function upstreamDetector(options: { minSeverity?: SeverityName } = {}): Detector {
  const min = severityRank(options.minSeverity ?? 'medium');
  return {
    name: 'upstream',
    detect(events: NormalisedEvent[]): AlertCandidate[] {
      const out: AlertCandidate[] = [];
      for (const e of events) {
        const f = e.finding;
        if (!f || severityRank(f.severity) < min) continue;
        const tags = [...f.tags];
        for (const t of f.techniques) tags.push(`attack.${t.toLowerCase()}`);
        out.push({
          detection: {
            engine: 'upstream',
            rule_id: `${e.source}:${f.uid ?? f.title}`,
            rule_title: f.title,
            level: f.severity,
            tags: [...new Set(tags)],
            ...(f.confidence === undefined ? {} : { confidence: f.confidence }),
            event_ids: [e.id],
          },
          events: [e],
        });
      }
      return out;
    },
  };
}

/** The registry entry of the upstream detector: one, reading `detect.upstream_min_severity`. */
export const upstreamDetectorFactory = {
  type: 'upstream',
  description: 'Verdicts the source product already reached (Wazuh rules, Suricata signatures, findings)',
  create: (_section, ctx) => [upstreamDetector({ minSeverity: ctx.detect.upstream_min_severity })],
} satisfies DetectorFactory;
