import { z } from 'zod';
import { AnalystConfig } from './analyst/config.ts';
import { IntegrationsConfig } from './cases/config.ts';
import { type LoadConfigOptions, loadConfigWith } from './config/load.ts';
import { section } from './config/sections.ts';
import { CorrelateConfig } from './correlate/config.ts';
import { DetectConfig } from './detect/config.ts';
import { MlConfig } from './detect/ml/config.ts';
import { KnowledgeConfig } from './knowledge/config.ts';
import { PipelineConfig } from './pipeline/config.ts';
import { ReceiversConfig } from './receivers/index.ts';
import { RespondConfig } from './respond/config.ts';
import { ServerConfig } from './server/config.ts';
import { SourcesConfig } from './sources/index.ts';
import { EmbeddedDbConfig, RetentionConfig } from './store/config.ts';

export type { LoadConfigOptions } from './config/load.ts';

/**
 * The application's configuration schema: the single source of truth for
 * every setting, its default and its documentation (`docs/CONFIG.md` and the
 * README's configuration table are generated from it). Unknown keys are
 * errors.
 *
 * This is the one module that knows every component's section. Each
 * section is its component's own schema, from its own folder; the sections
 * of a component kind (LLM backends under `analyst`, receivers, sources,
 * actions, embeddings backends) are assembled from that kind's registry, so
 * a new component brings its settings with its registry line and nothing
 * here changes.
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
    embedded_db: section(EmbeddedDbConfig),
    server: section(ServerConfig),
    pipeline: section(PipelineConfig),
    retention: section(RetentionConfig),
    detect: section(DetectConfig),
    analyst: section(AnalystConfig),
    correlate: section(CorrelateConfig),
    ml: section(MlConfig),
    knowledge: section(KnowledgeConfig),
    sources: SourcesConfig.default({}),
    receivers: section(ReceiversConfig),
    respond: section(RespondConfig),
    integrations: section(IntegrationsConfig),
  })
  .describe('AI-SOC configuration');

export type AppConfig = z.infer<typeof AppConfig>;

/**
 * Load and validate the application's configuration once, at start-up: file,
 * then environment, then flags. Fails fast with an error naming every bad
 * field.
 *
 * @example
 * const config = loadConfig({ file: 'aisoc.yaml', overrides: { server: { port: 9000 } } });
 */
export function loadConfig(options: LoadConfigOptions = {}): AppConfig {
  return loadConfigWith(AppConfig, options);
}
