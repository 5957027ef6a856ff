import { z } from 'zod';

/** ISO-8601 timestamp with a zone, as every record in the product stores it. */
export const Timestamp = z.iso
  .datetime({ offset: true })
  .describe('ISO-8601 timestamp with zone (UTC `Z` preferred)');

export const Uuid = z.uuid().describe('UUID');

/** Severity as people and the seed's API name it. */
export const SeverityName = z
  .enum(['informational', 'low', 'medium', 'high', 'critical'])
  .describe('Severity: informational, low, medium, high or critical');
export type SeverityName = z.infer<typeof SeverityName>;

/** Severities from the least to the most severe. */
export const SEVERITY_ORDER: readonly SeverityName[] = SeverityName.options;

/** Rank of a severity, 0 (informational) to 4 (critical); handy for sorting and thresholds. */
export function severityRank(s: SeverityName): number {
  return SEVERITY_ORDER.indexOf(s);
}

/**
 * OCSF `severity_id`: 0 Unknown, 1 Informational, 2 Low, 3 Medium, 4 High,
 * 5 Critical, 6 Fatal, 99 Other.
 */
export const OcsfSeverityId = z.union([
  z.literal(0),
  z.literal(1),
  z.literal(2),
  z.literal(3),
  z.literal(4),
  z.literal(5),
  z.literal(6),
  z.literal(99),
]);
export type OcsfSeverityId = z.infer<typeof OcsfSeverityId>;

const OCSF_SEVERITY_NAMES: Record<number, string> = {
  0: 'Unknown',
  1: 'Informational',
  2: 'Low',
  3: 'Medium',
  4: 'High',
  5: 'Critical',
  6: 'Fatal',
  99: 'Other',
};

export function ocsfSeverityName(id: number): string {
  return OCSF_SEVERITY_NAMES[id] ?? 'Unknown';
}

/** Map an OCSF severity id onto the product's five-level scale. */
export function severityFromOcsf(id: number): SeverityName {
  if (id >= 5 && id !== 99) return 'critical';
  if (id === 4) return 'high';
  if (id === 3) return 'medium';
  if (id === 2) return 'low';
  return 'informational';
}

const OCSF_OF_SEVERITY = { informational: 1, low: 2, medium: 3, high: 4, critical: 5 } as const;

export function ocsfFromSeverity(s: SeverityName): OcsfSeverityId {
  return OCSF_OF_SEVERITY[s];
}

/** A thing an alert or incident is about, used to correlate and to pivot. */
export const EntityType = z.enum([
  'user',
  'host',
  'ip',
  'access_key',
  'instance',
  'account',
  'process',
  'file',
  'domain',
  'url',
  'hash',
  'email',
  'role',
]);
export type EntityType = z.infer<typeof EntityType>;

export const Entity = z
  .object({
    type: EntityType,
    value: z.string().min(1),
  })
  .describe('An entity (user, host, IP, access key, …) that records share');
export type Entity = z.infer<typeof Entity>;

/** ATT&CK technique id such as T1078 or T1059.001. */
export const TechniqueId = z
  .string()
  .regex(/^T\d{4}(\.\d{3})?$/, 'must look like T1234 or T1234.001')
  .describe('ATT&CK technique id, e.g. T1078 or T1059.001');

/** Pagination parameters shared by list routes. */
export const Page = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(50).describe('Page size (1–1000)'),
  offset: z.coerce.number().int().min(0).max(10_000_000).default(0).describe('Rows to skip'),
});
