import { z } from 'zod';
import { Entity, SeverityName, Timestamp } from './common.ts';

export const DetectionEngine = z
  .enum(['sigma', 'rule', 'ml', 'upstream', 'correlation', 'analyst', 'manual'])
  .describe(
    'sigma: a Sigma rule; rule: a rule written as code (detect/<type>); ml: a model; upstream: the source product’s verdict',
  );

/** How rare a detection's call was for the identity that made it, by the cloud baselines (`detect.noise`). */
export const Rarity = z
  .object({
    verdict: z
      .enum(['learning', 'new', 'seen', 'familiar'])
      .describe(
        'learning: the baselines are younger than the learning window; new: the identity, API, region or user agent is first seen; familiar: every one of them seen before (often enough); seen: in between',
      ),
    score: z
      .number()
      .min(0)
      .max(1)
      .describe(
        '1 / (1 + n), n the fewest earlier calls sharing a part of this one (1: something first seen)',
      ),
    first_seen: z
      .array(z.enum(['identity', 'api', 'region', 'user_agent']))
      .default([])
      .describe('The parts of the call first seen for the identity'),
    identity: z.string().describe('The identity the baseline is kept for (a role, not its session)'),
  })
  .describe('The rarity of the call behind a detection, for its identity');
export type Rarity = z.infer<typeof Rarity>;

/** One reason an alert exists: a rule that matched, a model that scored, an upstream verdict. */
export const Detection = z
  .object({
    engine: DetectionEngine.describe('What produced the detection'),
    rule_id: z.string().describe('Rule, model or upstream signature id'),
    rule_title: z.string(),
    level: SeverityName.describe(
      'Severity of the detection: the rule’s level, capped by its status, set by configuration or moved by rarity (rule_level and level_reasons say how)',
    ),
    rule_level: SeverityName.optional().describe(
      'The level the rule itself states, when the detection’s level differs from it',
    ),
    level_reasons: z
      .array(z.string())
      .optional()
      .describe('Why the level differs from the rule’s: a status cap, a configured override, rarity'),
    rarity: Rarity.optional(),
    tags: z.array(z.string()).default([]).describe('Rule tags, e.g. attack.t1078, attack.initial_access'),
    confidence: z.number().min(0).max(1).optional().describe('Model or rule confidence, 0–1'),
    description: z.string().optional(),
    event_ids: z.array(z.uuid()).default([]).describe('Events this detection matched'),
  })
  .describe('A detection: why an alert was raised');
export type Detection = z.infer<typeof Detection>;

export const AlertStatus = z.enum(['new', 'acknowledged', 'in_progress', 'closed', 'suppressed']);
export type AlertStatus = z.infer<typeof AlertStatus>;

export const Alert = z
  .object({
    id: z.uuid(),
    fingerprint: z
      .string()
      .describe('Stable hash of rule and entities: identical alerts share it and are deduplicated'),
    title: z.string(),
    description: z.string().optional(),
    source: z.string().describe('Source type of the triggering events'),
    severity: SeverityName,
    priority: z.number().min(0).max(100).describe('Priority 0–100 (higher is more urgent)'),
    status: AlertStatus.default('new'),
    detections: z.array(Detection).min(1),
    event_ids: z.array(z.uuid()).describe('Ids of the events that matched'),
    count: z.number().int().min(1).default(1).describe('How many identical alerts were folded into this one'),
    entities: z.array(Entity).default([]),
    mitre_techniques: z.array(z.string()).default([]),
    mitre_tactics: z.array(z.string()).default([]),
    incident_id: z.uuid().optional(),
    first_seen: Timestamp.describe('Time of the earliest matched event'),
    last_seen: Timestamp.describe('Time of the latest matched event'),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .describe('An alert: one or more detections over events');
export type Alert = z.infer<typeof Alert>;
