import { z } from 'zod';
import { Entity, SeverityName, Timestamp } from './common.ts';

export const DetectionEngine = z.enum(['sigma', 'ml', 'upstream', 'correlation', 'analyst', 'manual']);

/** One reason an alert exists: a rule that matched, a model that scored, an upstream verdict. */
export const Detection = z
  .object({
    engine: DetectionEngine.describe('What produced the detection'),
    rule_id: z.string().describe('Rule, model or upstream signature id'),
    rule_title: z.string(),
    level: SeverityName.describe('Severity the rule or model assigns'),
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
