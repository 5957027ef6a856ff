import { z } from 'zod';

/**
 * `detect.sigma`: the Sigma engine's settings. Unknown keys are errors.
 *
 * @example
 * detect:
 *   sigma:
 *     rule_dirs: [/opt/sigma/rules/cloud/aws]
 *     placeholders: { Administrators: [admin, root] }
 */
const Level = z.enum(['informational', 'low', 'medium', 'high', 'critical']);

export const SigmaConfig = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Run Sigma rules in the detect stage'),
    builtin: z.boolean().default(true).describe('Load the built-in rule pack (content/rules)'),
    rule_dirs: z
      .array(z.string())
      .default([])
      .describe('Further rule files or directories (for example a SigmaHQ checkout), loaded after the pack'),
    pipeline_dirs: z
      .array(z.string())
      .default([])
      .describe('Further processing-pipeline directories, beside the built-in content/sigma/pipelines'),
    min_level: z
      .enum(['informational', 'low', 'medium', 'high', 'critical'])
      .default('low')
      .describe('Least rule level that raises an alert (informational rules are for enrichment)'),
    status_caps: z
      .strictObject({
        experimental: Level.optional(),
        test: Level.optional(),
        stable: Level.optional(),
      })
      .default({ experimental: 'low', test: 'high' })
      .describe(
        "The highest default level of a rule of each status. Sigma's own words: experimental rules 'could lead to many false positives' (low: 'relevant in high numbers or combination', reviewed regularly); test rules 'could require some fine tuning' (at most high: only a stable rule may say critical, 'indicates an incident'). Rarity may still raise a level; an override wins",
      ),
    level_overrides: z
      .record(z.string().min(1), Level)
      .default({})
      .describe(
        'Levels set by configuration, by rule id or title, over the rule’s own and its status cap (informational turns a rule into context: it raises no alert)',
      ),
    skip_deprecated: z
      .boolean()
      .default(true)
      .describe('Skip rules whose status is deprecated or unsupported (they are counted, not loaded)'),
    placeholders: z
      .record(z.string(), z.array(z.string()))
      .default({})
      .describe('Values of %name% placeholders for the expand modifier, e.g. { Administrators: [admin] }'),
    unknown_placeholder: z
      .enum(['empty', 'reject'])
      .default('empty')
      .describe('A placeholder with no configured values expands to nothing (empty) or rejects the rule'),
    regex_engine: z
      .enum(['re2', 'guarded'])
      .default('re2')
      .describe(
        're2: every |re pattern runs on a linear-time engine; guarded: patterns a static check finds safe run on V8',
      ),
    correlation_max_groups: z
      .number()
      .int()
      .min(1)
      .default(10_000)
      .describe('Most open groups per correlation rule; the least recently updated are dropped past it'),
    correlation_max_events: z
      .number()
      .int()
      .min(1)
      .default(100)
      .describe('Most events kept as evidence per correlation group'),
  })
  .describe('Sigma rules: built-in pack, extra rules, placeholders, regex engine');
export type SigmaConfig = z.infer<typeof SigmaConfig>;
