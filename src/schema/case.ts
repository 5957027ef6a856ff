import { z } from 'zod';
import { SeverityName, Timestamp } from './common.ts';

export const CaseStatus = z.enum(['new', 'in_progress', 'resolved', 'closed']);
export const CaseResolution = z.enum(['true_positive', 'benign_positive', 'false_positive']);

export const CaseTask = z.object({
  id: z.string(),
  title: z.string(),
  status: z.enum(['open', 'done']).default('open'),
  assignee: z.string().optional(),
});
export type CaseTask = z.infer<typeof CaseTask>;

export const CaseObservable = z.object({
  type: z.string(),
  value: z.string(),
  event_id: z.string().optional(),
  ioc: z.boolean().default(false),
});
export type CaseObservable = z.infer<typeof CaseObservable>;

export const CaseComment = z.object({
  id: z.string(),
  author: z.string(),
  text: z.string(),
  created_at: Timestamp,
});
export type CaseComment = z.infer<typeof CaseComment>;

export const TimelineEntry = z.object({
  at: Timestamp,
  actor: z.string(),
  action: z.string(),
  detail: z.string().optional(),
});
export type TimelineEntry = z.infer<typeof TimelineEntry>;

export const Case = z
  .object({
    id: z.uuid(),
    incident_id: z.uuid().optional(),
    title: z.string(),
    description: z.string().optional(),
    status: CaseStatus.default('new'),
    resolution: CaseResolution.optional(),
    severity: SeverityName,
    assignee: z.string().optional(),
    tasks: z.array(CaseTask).default([]),
    observables: z.array(CaseObservable).default([]),
    comments: z.array(CaseComment).default([]),
    timeline: z.array(TimelineEntry).default([]),
    created_at: Timestamp,
    updated_at: Timestamp,
    closed_at: Timestamp.optional(),
  })
  .describe('A case: the investigation of an incident');
export type Case = z.infer<typeof Case>;

export const AuditEntry = z
  .object({
    id: z.number().int(),
    at: Timestamp,
    actor: z.string().describe('API key name, `system`, or the CLI user'),
    action: z.string().describe('verdict, playbook.step, action.request, action.approve, …'),
    target_type: z.string(),
    target_id: z.string(),
    reason: z.string().optional(),
    details: z.record(z.string(), z.unknown()).default({}),
  })
  .describe('An append-only audit record: who did what, to what, why and when');
export type AuditEntry = z.infer<typeof AuditEntry>;

export const DeadLetter = z
  .object({
    id: z.number().int(),
    at: Timestamp,
    source: z.string(),
    stage: z.string(),
    code: z.string(),
    reason: z.string(),
    field: z.string().optional(),
    record: z.string().describe('The rejected input (truncated to the configured size)'),
  })
  .describe('An input the pipeline rejected, with the reason');
export type DeadLetter = z.infer<typeof DeadLetter>;
