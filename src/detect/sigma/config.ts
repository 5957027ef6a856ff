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
/**
 * `detect.sigma.sigmahq`: where `aisoc rules update` fetches the SigmaHQ
 * release, how it verifies it, and which rules of it it enables.
 */
export const SigmaHqConfig = z
  .strictObject({
    load: z
      .boolean()
      .default(true)
      .describe(
        'Load the rules `aisoc rules update` installed (<data_dir>/sigmahq/rules), when there are any',
      ),
    url: z
      .string()
      .min(1)
      .default('https://github.com/SigmaHQ/sigma/releases/latest/download/sigma_all_rules.zip')
      .describe(
        'The release to fetch: an https:// or file:// URL or a local path, to a release zip or an unpacked rule tree',
      ),
    sha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, 'a SHA-256 in hex (64 digits)')
      .optional()
      .describe(
        'Expected SHA-256 of the zip (of a rule tree: its tree digest, which the command prints); pin the release you reviewed',
      ),
    checksum_url: z
      .string()
      .min(1)
      .optional()
      .describe(
        'A checksum file ("<sha256>  <file name>" lines, as sha256sum writes) to verify the zip against, by URL or path',
      ),
    allow_unverified: z
      .boolean()
      .default(false)
      .describe(
        'Install a release neither sha256 nor checksum_url verifies (a mismatch is refused all the same)',
      ),
    statuses: z
      .array(z.enum(['stable', 'test', 'experimental']))
      .min(1)
      .default(['stable', 'test'])
      .describe('Rule statuses enabled'),
    min_level: z
      .enum(['informational', 'low', 'medium', 'high', 'critical'])
      .default('medium')
      .describe('Least rule level enabled'),
    collections: z
      .array(z.string().min(1))
      .min(1)
      .default(['rules', 'rules-emerging-threats'])
      .describe(
        'Top-level folders of the release taken (rules-threat-hunting and rules-placeholder exist too; deprecated rules never)',
      ),
    max_bytes: z
      .number()
      .int()
      .min(1)
      .default(256 * 1024 * 1024)
      .describe('Largest download, and largest total of unpacked rule files, in bytes'),
    timeout_ms: z.number().int().min(1).default(120_000).describe('Download timeout'),
  })
  .describe('SigmaHQ rules: release to fetch, verification, the curated subset enabled');
export type SigmaHqConfig = z.infer<typeof SigmaHqConfig>;
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
        'Levels set by configuration for Sigma rules, by rule id or title, over the rule’s own and its status cap (informational turns a rule into context: it raises no alert). Read before detect.level_overrides, which sets the level of any rule, Sigma or code',
      ),
    skip_deprecated: z
      .boolean()
      .default(true)
      .describe('Skip rules whose status is deprecated or unsupported (they are counted, not loaded)'),
    placeholders: z
      .record(z.string(), z.array(z.string()))
      .default({ malware_ja3: [] })
      .describe(
        "Values of %name% placeholders for the expand modifier, e.g. { Administrators: [admin] }. The pack's JA3 rules read malware_ja3 (JA3 MD5 hashes of malware TLS clients, e.g. from abuse.ch SSLBL), empty by default",
      ),
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
    sigmahq: SigmaHqConfig.default(SigmaHqConfig.parse({})),
  })
  .describe('Sigma rules: built-in pack, extra rules, placeholders, regex engine');
export type SigmaConfig = z.infer<typeof SigmaConfig>;
