import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { AisocError } from '../errors.ts';

/** Deep-merge plain objects; arrays and scalars from `over` replace those in `base`. */
export function mergeDeep(
  base: Record<string, unknown>,
  over: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    const b = out[k];
    if (isPlainObject(b) && isPlainObject(v)) out[k] = mergeDeep(b, v);
    else out[k] = v;
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Turn zod issues into one AisocError naming every bad field. */
export function configError(error: z.ZodError, origin: string): AisocError {
  const lines = error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  return new AisocError('AISOC_ERR_CONFIG', `Invalid configuration in ${origin}: ${lines.join('; ')}`, {
    field: error.issues[0]?.path.join('.'),
    details: { issues: lines },
  });
}

/** Settings read from the environment (documented beside each field). */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (env.AISOC_DATA_DIR) out.data_dir = env.AISOC_DATA_DIR;
  if (env.AISOC_DATABASE_URL) out.database_url = env.AISOC_DATABASE_URL;
  if (env.AISOC_LOG_LEVEL) out.log_level = env.AISOC_LOG_LEVEL;
  // pipeline.nats.servers: a comma-separated list.
  const nats = (env.AISOC_NATS_URL ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const pipeline: Record<string, unknown> = {};
  const natsSection: Record<string, unknown> = {};
  if (nats.length > 0) natsSection.servers = nats;
  // pipeline.nats credentials: from the environment (or secrets files the container turns into it), not the file.
  for (const [name, key] of [
    ['AISOC_NATS_USER', 'user'],
    ['AISOC_NATS_PASSWORD', 'password'],
    ['AISOC_NATS_TOKEN', 'token'],
    ['AISOC_NATS_NKEY_SEED_FILE', 'nkey_seed_file'],
    ['AISOC_NATS_CREDS_FILE', 'creds_file'],
    ['AISOC_NATS_CA_FILE', 'tls_ca_file'],
  ] as const)
    if (env[name]) natsSection[key] = env[name];
  if (Object.keys(natsSection).length > 0) pipeline.nats = natsSection;
  // pipeline.runner: checked against the registry like any value of the file.
  if (env.AISOC_PIPELINE_RUNNER) pipeline.runner = env.AISOC_PIPELINE_RUNNER;
  if (Object.keys(pipeline).length > 0) out.pipeline = pipeline;
  return out;
}

export interface LoadConfigOptions {
  /** Path to a YAML or JSON config file. */
  file?: string;
  /** Overrides from command-line flags (highest precedence). */
  overrides?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
}

/**
 * Load configuration and validate it against `schema`: file, then
 * environment, then flags. Fails fast with an error naming every bad field.
 * The application's schema is assembled where every component is known
 * (`src/app-config.ts`, whose `loadConfig` calls this with it); this module
 * knows none.
 *
 * @example
 * const config = loadConfigWith(AppConfig, { file: 'aisoc.yaml', overrides: { server: { port: 9000 } } });
 */
export function loadConfigWith<S extends z.ZodType>(schema: S, options: LoadConfigOptions = {}): z.output<S> {
  const env = options.env ?? process.env;
  let fromFile: Record<string, unknown> = {};
  const file = options.file ?? env.AISOC_CONFIG;
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new AisocError(
        'AISOC_ERR_CONFIG',
        `Cannot read the config file ${file}: ${(err as Error).message}`,
        {
          file,
        },
      );
    }
    let parsed: unknown;
    try {
      parsed = parseYaml(text);
    } catch (err) {
      throw new AisocError(
        'AISOC_ERR_CONFIG',
        `The config file ${file} is not valid YAML: ${(err as Error).message}`,
        {
          file,
        },
      );
    }
    if (parsed != null && !isPlainObject(parsed)) {
      throw new AisocError(
        'AISOC_ERR_CONFIG',
        `The config file ${file} must hold a mapping at the top level`,
        { file },
      );
    }
    fromFile = (parsed as Record<string, unknown> | null) ?? {};
  }
  const merged = mergeDeep(mergeDeep(fromFile, configFromEnv(env)), options.overrides ?? {});
  const result = schema.safeParse(merged);
  if (!result.success) throw configError(result.error, file ?? 'settings');
  return result.data;
}
