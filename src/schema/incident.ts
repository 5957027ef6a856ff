import { z } from 'zod';
import { Entity, SeverityName, Timestamp } from './common.ts';

export const IncidentStatus = z.enum(['open', 'investigating', 'contained', 'resolved', 'closed']);
export type IncidentStatus = z.infer<typeof IncidentStatus>;

export const Incident = z
  .object({
    id: z.uuid(),
    title: z.string(),
    status: IncidentStatus.default('open'),
    severity: SeverityName,
    priority: z.number().min(0).max(100),
    alert_ids: z.array(z.uuid()),
    alert_count: z.number().int().min(0),
    entities: z.array(Entity).default([]).describe('Entities shared by the grouped alerts'),
    mitre_techniques: z.array(z.string()).default([]),
    mitre_tactics: z.array(z.string()).default([]),
    first_seen: Timestamp,
    last_seen: Timestamp,
    created_at: Timestamp,
    updated_at: Timestamp,
    case_id: z.uuid().optional(),
  })
  .describe('An incident: alerts that share entities within a time window');
export type Incident = z.infer<typeof Incident>;
