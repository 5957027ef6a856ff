import { z } from 'zod';
import { BedrockConfig } from '../analyst/llm/bedrock/config.ts';
import { OllamaConfig } from '../analyst/llm/ollama/config.ts';
import { OpenAiConfig } from '../analyst/llm/openai/config.ts';
import { MlConfig } from '../detect/ml/config.ts';
import { SigmaConfig } from '../detect/sigma/config.ts';
import { KnowledgeConfig } from '../knowledge/config.ts';
import { ReceiversConfig } from '../receivers/config.ts';
import { DEFAULT_EVENT_LIMITS, MIN_FIELD_BYTES, MIN_RAW_BYTES } from '../sources/limits.ts';

/**
 * The configuration schema: the single source of truth for every setting,
 * its default and its documentation (`docs/CONFIG.md` and the README's
 * configuration table are generated from it). Unknown keys are errors.
 */
export const ServerConfig = z
  .strictObject({
    host: z.string().default('127.0.0.1').describe('Address the HTTP server binds to'),
    port: z.number().int().min(0).max(65535).default(8080).describe('HTTP port (0 picks a free port)'),
    body_limit_bytes: z
      .number()
      .int()
      .min(1024)
      .default(16 * 1024 * 1024)
      .describe('Largest request body accepted, compressed, in bytes'),
    decompressed_limit_bytes: z
      .number()
      .int()
      .min(1024)
      .default(128 * 1024 * 1024)
      .describe('Largest body after gzip/deflate decompression, in bytes (gzip-bomb guard)'),
    rate_limit_per_minute: z
      .number()
      .int()
      .min(0)
      .default(12_000)
      .describe('Requests per minute per API key (or per IP without a key); 0 disables'),
    unauthenticated_rate_limit_per_minute: z
      .number()
      .int()
      .min(0)
      .default(120)
      .describe(
        'Requests per minute per client address that fail authentication (no key, an unknown or revoked key, a key without the scope); past it they get 429 until the minute ends, while valid keys from that address are still served. 0 disables',
      ),
    trust_proxy: z.boolean().default(false).describe('Trust X-Forwarded-For from a reverse proxy'),
    request_timeout_ms: z.number().int().min(0).default(120_000).describe('Time allowed for one request'),
  })
  .describe('HTTP API server');

export const PipelineConfig = z
  .strictObject({
    queue_capacity: z
      .number()
      .int()
      .min(1)
      .default(20_000)
      .describe('Events accepted but not yet processed before ingestion is refused with 429'),
    batch_size: z.number().int().min(1).max(10_000).default(500).describe('Events a stage handles per call'),
    stage_queue_batches: z
      .number()
      .int()
      .min(1)
      .default(4)
      .describe('Batches that may wait between two stages (bounded queue length)'),
    max_inflight_requests: z
      .number()
      .int()
      .min(1)
      .default(32)
      .describe('Ingest requests decoded at once; more are refused with 429 (bounds memory)'),
    retry_attempts: z
      .number()
      .int()
      .min(1)
      .max(10)
      .default(3)
      .describe('Attempts per batch before items are retried alone and dead-lettered'),
    retry_backoff_ms: z.number().int().min(0).default(100).describe('First retry delay; doubles per attempt'),
    dead_letter_record_bytes: z
      .number()
      .int()
      .min(256)
      .default(64 * 1024)
      .describe('Rejected input kept per dead letter, in bytes (longer records are truncated)'),
    max_event_loop_delay_ms: z
      .number()
      .int()
      .min(0)
      .default(100)
      .describe(
        'Refuse new input with 503 AISOC_ERR_UNDER_PRESSURE while the event loop was delayed longer than this in the last sample window, in ms (0 disables); /health is never refused',
      ),
    max_rss_bytes: z
      .number()
      .int()
      .min(0)
      .default(1024 * 1024 * 1024)
      .describe(
        'Refuse new input with 503 AISOC_ERR_UNDER_PRESSURE while the resident set size is above this and accepted events are still being processed, in bytes (0 disables)',
      ),
    pressure_sample_ms: z
      .number()
      .int()
      .min(10)
      .default(250)
      .describe('How often event-loop delay and memory are sampled for admission, in ms'),
    max_field_bytes: z
      .number()
      .int()
      .min(MIN_FIELD_BYTES)
      .default(DEFAULT_EVENT_LIMITS.maxFieldBytes)
      .describe(
        'Longest text kept in one field of a stored event, in UTF-8 bytes: longer text is cut to this size, ending with "…[truncated: N bytes in all]", and the event is marked truncated: true',
      ),
    max_raw_bytes: z
      .number()
      .int()
      .min(MIN_RAW_BYTES)
      .default(DEFAULT_EVENT_LIMITS.maxRawBytes)
      .describe(
        'Largest raw record kept with a stored event, in bytes of JSON (after max_field_bytes): a larger one is kept as the start of its JSON text, with the marker',
      ),
  })
  .describe('Pipeline runner');

export const RetentionConfig = z
  .strictObject({
    events_days: z
      .number()
      .min(0)
      .default(30)
      .describe(
        'Days events are kept after ingestion (0 keeps them forever); alerts, incidents, verdicts, cases and audit are kept until deleted',
      ),
    sweep_interval_ms: z
      .number()
      .int()
      .min(1000)
      .default(3_600_000)
      .describe('How often expired events are deleted'),
  })
  .describe('Data retention');

export const CorrelateConfig = z
  .strictObject({
    dedupe_window_ms: z
      .number()
      .int()
      .min(0)
      .default(3_600_000)
      .describe('Identical alerts (same rule and entities) within this window fold into one, with a count'),
    group_window_ms: z
      .number()
      .int()
      .min(0)
      .default(4 * 3_600_000)
      .describe('Alerts sharing an entity within this window are grouped into one incident'),
    group_by: z
      .array(z.enum(['user', 'host', 'ip', 'access_key', 'instance', 'account', 'process', 'file', 'domain']))
      .default(['user', 'access_key', 'ip', 'host', 'instance'])
      .describe('Entity types that link alerts into an incident'),
  })
  .describe('Correlation of alerts into incidents');

export const DetectConfig = z
  .strictObject({
    upstream_min_severity: z
      .enum(['informational', 'low', 'medium', 'high', 'critical'])
      .default('medium')
      .describe('Least severity of an upstream verdict (Wazuh, Suricata, GuardDuty) that raises an alert'),
    sigma: SigmaConfig.default(SigmaConfig.parse({})),
  })
  .describe('Detection');

export const AnalystConfig = z
  .strictObject({
    backend: z
      .enum(['builtin', 'ollama', 'openai', 'bedrock'])
      .default('builtin')
      .describe('Who writes verdicts: the built-in analyst (no LLM), or an LLM backend configured below'),
    pseudonymise: z
      .enum(['auto', 'always', 'never'])
      .default('auto')
      .describe(
        'Replace IPs, user and host names, emails and AWS account/key ids with tokens before a prompt leaves: auto = when the backend is not on loopback or a private network',
      ),
    ollama: OllamaConfig.default(OllamaConfig.parse({})),
    openai: OpenAiConfig.default(OpenAiConfig.parse({})),
    bedrock: BedrockConfig.default(BedrockConfig.parse({})),
    assets: z
      .strictObject({
        critical_hosts: z
          .array(z.string())
          .default([])
          .describe('Host names, instance ids or IPs whose compromise matters most'),
        privileged_users: z
          .array(z.string())
          .default([])
          .describe('Users with administrative power (root, break-glass, domain admins)'),
        crown_jewel_accounts: z
          .array(z.string())
          .default([])
          .describe('Cloud account ids or identities holding the crown jewels'),
      })
      .default({ critical_hosts: [], privileged_users: [], crown_jewel_accounts: [] })
      .describe('Asset and identity context for priority and verdicts'),
    cache_ttl_ms: z
      .number()
      .int()
      .min(0)
      .default(3_600_000)
      .describe(
        'Reuse a stored verdict younger than this for the same input: a sha256 of the whole canonicalised input, the backend and model, and the knowledge version (0 disables)',
      ),
  })
  .describe('Analyst: the LLM backend and its settings (see docs/llm.md)');
export type AnalystConfig = z.infer<typeof AnalystConfig>;

export const ApprovalsConfig = z
  .strictObject({
    min_approvers: z
      .number()
      .int()
      .min(1)
      .max(5)
      .default(1)
      .describe(
        'People who must approve a request that waits for approval, none of them its requester (four eyes: distinct API key names)',
      ),
  })
  .describe('Approvals of action requests');

export const SuppressionsConfig = z
  .strictObject({
    max_days: z
      .number()
      .int()
      .min(1)
      .max(365)
      .default(30)
      .describe(
        "Longest suppression a case closed as false positive may create, in days; longer ones, or ones beyond the case's own rules and entities, need an admin key (up to 365)",
      ),
  })
  .describe('Suppressions created when a case closes as a false positive');

export const RespondConfig = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe('Run the playbooks (the decision flow among them) on every alert and incident'),
    dry_run: z
      .boolean()
      .default(true)
      .describe(
        'A ceiling: while true, actions that change something run as dry runs, and run live only when a person other than the requester approved the request or a playbook policy names the action (no caller lifts it)',
      ),
    threshold: z
      .number()
      .min(0)
      .max(100)
      .default(80)
      .describe('Priority at or above which the decision flow runs the analyst (the seed threshold)'),
    builtin_playbooks: z.boolean().default(true).describe('Load the playbooks shipped in content/playbooks'),
    playbook_dirs: z.array(z.string()).default([]).describe('More directories of playbooks (YAML)'),
    worker_concurrency: z
      .number()
      .int()
      .min(1)
      .max(32)
      .default(2)
      .describe('Alerts triaged at once (LLM calls are slow)'),
    actions: z
      .record(z.string(), z.unknown())
      .default({})
      .describe(
        'Enabled actions: action type → its settings (docs/actions.md). An action not listed here never runs',
      ),
    approvals: ApprovalsConfig.default(ApprovalsConfig.parse({})),
    suppressions: SuppressionsConfig.default(SuppressionsConfig.parse({})),
  })
  .describe('Response: playbooks, actions and approvals');

export const IntegrationsConfig = z
  .strictObject({
    thehive: z
      .strictObject({
        url: z.string().url().optional().describe('TheHive 5 base URL; exports are off while unset'),
        api_key_env: z
          .string()
          .default('AISOC_THEHIVE_API_KEY')
          .describe('Environment variable holding the TheHive API key'),
        organisation: z.string().optional().describe('TheHive organisation (X-Organisation header)'),
        timeout_ms: z.number().int().min(100).default(15_000).describe('Time allowed per TheHive request'),
      })
      .default({ api_key_env: 'AISOC_THEHIVE_API_KEY', timeout_ms: 15_000 }),
  })
  .describe('Other products AI-SOC talks to');

export const EmbeddedDbConfig = z
  .strictObject({
    shared_buffers_mb: z
      .number()
      .int()
      .min(1)
      .max(4096)
      .default(32)
      .describe(
        'PostgreSQL shared_buffers of the embedded database (PGlite), in MiB: its page cache, resident in the server process from the start (the operating system caches the files beneath it)',
      ),
  })
  .describe('The embedded database (PGlite), used when database_url is not set');

export const AppConfig = z
  .strictObject({
    data_dir: z
      .string()
      .default('./.aisoc')
      .describe('Directory for the embedded database, keys and state (env AISOC_DATA_DIR)'),
    database_url: z
      .string()
      .optional()
      .describe('PostgreSQL URL; when set, it replaces the embedded database (env AISOC_DATABASE_URL)'),
    log_level: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info')
      .describe('Log level (env AISOC_LOG_LEVEL)'),
    embedded_db: EmbeddedDbConfig.default(EmbeddedDbConfig.parse({})),
    server: ServerConfig.default(ServerConfig.parse({})),
    pipeline: PipelineConfig.default(PipelineConfig.parse({})),
    retention: RetentionConfig.default(RetentionConfig.parse({})),
    detect: DetectConfig.default(DetectConfig.parse({})),
    analyst: AnalystConfig.default(AnalystConfig.parse({})),
    correlate: CorrelateConfig.default(CorrelateConfig.parse({})),
    ml: MlConfig.default(MlConfig.parse({})),
    knowledge: KnowledgeConfig.default(KnowledgeConfig.parse({})),
    sources: z
      .record(z.string(), z.unknown())
      .default({})
      .describe('Per-source settings, keyed by source type; each source validates its own section'),
    receivers: ReceiversConfig.default(ReceiversConfig.parse({})),
    respond: RespondConfig.default(RespondConfig.parse({})),
    integrations: IntegrationsConfig.default(IntegrationsConfig.parse({})),
  })
  .describe('AI-SOC configuration');

export type AppConfig = z.infer<typeof AppConfig>;
export type ServerConfig = z.infer<typeof ServerConfig>;
export type PipelineConfig = z.infer<typeof PipelineConfig>;
