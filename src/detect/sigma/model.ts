import { z } from 'zod';

/**
 * The Sigma rule model (specification v2): detection rules, correlation
 * rules and filters, as zod schemas. Sigma allows arbitrary custom
 * attributes, so documents are loose objects; the known attributes are
 * typed and checked.
 */

export const SigmaLevel = z
  .enum(['informational', 'low', 'medium', 'high', 'critical'])
  .describe('How serious a match is');
export type SigmaLevel = z.infer<typeof SigmaLevel>;

export const SigmaStatus = z
  .enum(['stable', 'test', 'experimental', 'deprecated', 'unsupported'])
  .describe('Maturity of the rule');
export type SigmaStatus = z.infer<typeof SigmaStatus>;

const stringOrList = z.union([z.string(), z.array(z.string())]);
/** A date as written (`2024-01-31`); YAML may hand it over as a string or a number-like value. */
const dateLike = z.union([z.string(), z.number()]).transform(String);

export const LogSource = z
  .looseObject({
    category: z.string().optional().describe('Group of logs, e.g. process_creation'),
    product: z.string().optional().describe('Product, e.g. windows, aws, linux'),
    service: z.string().optional().describe('Subset of the product logs, e.g. cloudtrail, security, sshd'),
    definition: z.string().optional().describe('Free text: how the log source must be configured'),
  })
  .describe('The log data a rule applies to');
export type LogSource = z.infer<typeof LogSource>;

const Related = z.array(
  z.looseObject({
    id: z.string(),
    type: z.enum(['derived', 'obsolete', 'merged', 'renamed', 'similar']),
  }),
);

const common = {
  title: z.string().min(1).max(256).describe('What the rule detects'),
  id: z.string().min(1).optional().describe('Globally unique id (a UUID)'),
  name: z.string().min(1).optional().describe('Unique human-readable name, used by correlation rules'),
  description: z.string().optional(),
  author: stringOrList.optional(),
  references: z.array(z.string()).optional(),
  date: dateLike.optional(),
  modified: dateLike.optional(),
  license: z.string().optional(),
  taxonomy: z.string().optional(),
};

export const DetectionRuleDoc = z
  .looseObject({
    ...common,
    related: Related.optional(),
    status: SigmaStatus.optional(),
    logsource: LogSource,
    detection: z
      .record(z.string(), z.unknown())
      .describe('Search identifiers and the condition that combines them'),
    fields: z.array(z.string()).optional(),
    falsepositives: stringOrList.optional(),
    level: SigmaLevel.optional(),
    tags: z.array(z.string()).optional(),
    scope: z.array(z.string()).optional(),
  })
  .describe('A Sigma detection rule');
export type DetectionRuleDoc = z.infer<typeof DetectionRuleDoc>;

export const CorrelationType = z.enum(['event_count', 'value_count', 'temporal', 'temporal_ordered']);
export type CorrelationType = z.infer<typeof CorrelationType>;

const CountCondition = z
  .looseObject({
    gt: z.number().optional(),
    gte: z.number().optional(),
    lt: z.number().optional(),
    lte: z.number().optional(),
    eq: z.number().optional(),
    field: z.string().optional().describe('value_count: the field whose distinct values are counted'),
  })
  .describe('Count criterion; several keys are joined with AND');

export const CorrelationRuleDoc = z
  .looseObject({
    ...common,
    status: SigmaStatus.optional(),
    level: SigmaLevel.optional(),
    tags: z.array(z.string()).optional(),
    falsepositives: stringOrList.optional(),
    correlation: z.looseObject({
      type: CorrelationType,
      rules: stringOrList.describe('Ids or names of the rules (or correlations) correlated'),
      'group-by': stringOrList.optional().describe('Fields whose values must be equal across events'),
      timespan: z.string().describe('Window: a number and s, m, h, d (e.g. 5m)'),
      condition: CountCondition.optional(),
      aliases: z
        .record(z.string(), z.record(z.string(), z.string()))
        .optional()
        .describe('Alias → rule name → field name, for grouping on differently named fields'),
      generate: z.boolean().optional().describe('Whether the referenced rules also alert on their own'),
    }),
  })
  .describe('A Sigma correlation rule');
export type CorrelationRuleDoc = z.infer<typeof CorrelationRuleDoc>;

export const FilterDoc = z
  .looseObject({
    ...common,
    logsource: LogSource,
    filter: z.looseObject({
      rules: stringOrList.describe('Ids or names of the rules the filter applies to'),
      condition: z.union([z.string(), z.array(z.string())]),
    }),
  })
  .describe('A Sigma filter (global exclusion applied to rules)');
export type FilterDoc = z.infer<typeof FilterDoc>;

/** Which kind of Sigma document a parsed YAML value is. */
export function documentKind(value: Record<string, unknown>): 'correlation' | 'filter' | 'detection' {
  if ('correlation' in value) return 'correlation';
  if ('filter' in value && !('detection' in value)) return 'filter';
  return 'detection';
}

/** `5m` → 300000 ms; undefined for an invalid timespan. */
export function parseTimespan(s: string): number | undefined {
  const m = /^(\d+)\s*([smhdwMy])$/.exec(s.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3, M: 30 * 86400e3, y: 365 * 86400e3 }[
    m[2] as 's'
  ];
  return n * unit;
}

export function asList(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}
