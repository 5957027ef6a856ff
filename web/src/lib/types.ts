/**
 * The API's records, typed from the server's zod schemas (the single source of truth): type-only imports,
 * so nothing of zod or the server reaches the bundle. Shapes of the console's own routes follow them.
 */
import type { Alert } from '../../../src/schema/alert.ts';
import type { Incident } from '../../../src/schema/incident.ts';
import type { StoredVerdict } from '../../../src/schema/verdict.ts';

export type { Alert, AlertStatus, Detection } from '../../../src/schema/alert.ts';
export type {
  AuditEntry,
  Case,
  CaseComment,
  CaseObservable,
  CaseTask,
  DeadLetter,
  TimelineEntry,
} from '../../../src/schema/case.ts';
export type { Entity, SeverityName } from '../../../src/schema/common.ts';
export type { NormalisedEvent } from '../../../src/schema/event.ts';
export type { Incident, IncidentStatus } from '../../../src/schema/incident.ts';
export type { ActionRequest, ActionStatus, PlaybookRun, Suppression } from '../../../src/schema/response.ts';
export type { Evidence, StoredVerdict, TriageResponse } from '../../../src/schema/verdict.ts';

import type { NormalisedEvent } from '../../../src/schema/event.ts';

export interface Page<T> {
  items: T[];
  total: number;
}

export interface PriorityComponent {
  factor: string;
  points: number;
  reason: string;
}

export interface AlertDetail extends Alert {
  events: NormalisedEvent[];
  verdict: StoredVerdict | null;
  priority_breakdown?: { score: number; components: PriorityComponent[] };
}

export interface IncidentDetail extends Incident {
  alerts: Alert[];
}

export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'informational'] as const;
