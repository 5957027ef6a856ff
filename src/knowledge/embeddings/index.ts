import type { EmbeddingsConfig } from '../config.ts';
import { OllamaEmbedder } from './ollama.ts';
import { OpenAiEmbedder } from './openai.ts';
import type { Embedder } from './types.ts';

export type { Embedder } from './types.ts';

const DEFAULTS = {
  openai: { url: 'https://api.openai.com/v1', model: 'text-embedding-3-small' },
  ollama: { url: 'http://127.0.0.1:11434', model: 'nomic-embed-text' },
} as const;

/**
 * The embedder the config asks for, or undefined for `backend: none`.
 *
 * @example createEmbedder({ ...EmbeddingsConfig.parse({}), backend: 'ollama' })?.model // 'nomic-embed-text'
 */
export function createEmbedder(
  config: EmbeddingsConfig,
  env: NodeJS.ProcessEnv = process.env,
): Embedder | undefined {
  if (config.backend === 'none') return undefined;
  const d = DEFAULTS[config.backend];
  const settings = {
    url: config.url ?? d.url,
    model: config.model ?? d.model,
    apiKey: env[config.api_key_env] || undefined,
    dimensions: config.dimensions,
    timeoutMs: config.timeout_ms,
    retries: config.retries,
    batchSize: config.batch_size,
  };
  return config.backend === 'openai' ? new OpenAiEmbedder(settings) : new OllamaEmbedder(settings);
}
