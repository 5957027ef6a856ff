import { z } from 'zod';
import { AnalystConfig } from '../analyst/config.ts';
import { IntegrationsConfig } from '../cases/config.ts';
import { CorrelateConfig } from '../correlate/config.ts';
import { DetectConfig } from '../detect/config.ts';
import { MlConfig } from '../detect/ml/config.ts';
import { KnowledgeConfig } from '../knowledge/config.ts';
import { PipelineConfig } from '../pipeline/config.ts';
import { ReceiversConfig } from '../receivers/index.ts';
import { RespondConfig } from '../respond/config.ts';
import { ServerConfig } from '../server/config.ts';
import { SourcesConfig } from '../sources/index.ts';
import { EmbeddedDbConfig, RetentionConfig } from '../store/config.ts';

/**
 * The configuration schema: the single source of truth for every setting,
 * its default and its documentation (`docs/CONFIG.md` and the README's
 * configuration table are generated from it). Unknown keys are errors.
 * Each section is its component's own schema, from its own folder.
 */
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
    sources: SourcesConfig.default({}),
    receivers: ReceiversConfig.default(ReceiversConfig.parse({})),
    respond: RespondConfig.default(RespondConfig.parse({})),
    integrations: IntegrationsConfig.default(IntegrationsConfig.parse({})),
  })
  .describe('AI-SOC configuration');

export type AppConfig = z.infer<typeof AppConfig>;
