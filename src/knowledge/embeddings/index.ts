import type { EmbeddingsConfig } from '../config.ts';
import { OllamaEmbedder } from './ollama.ts';
import { OpenAiEmbedder } from './openai.ts';
import type { Embedder, EmbedderSettings } from './types.ts';

export type { Embedder } from './types.ts';

/** An embeddings backend: the endpoint and model it uses unless configured, and how it is built. */
export interface EmbeddingBackend {
  readonly defaults: { readonly url: string; readonly model: string };
  create(settings: EmbedderSettings): Embedder;
}

/**
 * Every embeddings backend, by the name `knowledge.embeddings.backend`
 * takes (the config schema's list of backends is these keys): one line per
 * backend.
 */
export const EMBEDDING_BACKENDS = {
  openai: {
    defaults: { url: 'https://api.openai.com/v1', model: 'text-embedding-3-small' },
    create: (settings) => new OpenAiEmbedder(settings),
  },
  ollama: {
    defaults: { url: 'http://127.0.0.1:11434', model: 'nomic-embed-text' },
    create: (settings) => new OllamaEmbedder(settings),
  },
} as const satisfies Record<string, EmbeddingBackend>;

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
  const backend: EmbeddingBackend = EMBEDDING_BACKENDS[config.backend];
  const d = backend.defaults;
  const settings = {
    url: config.url ?? d.url,
    model: config.model ?? d.model,
    apiKey: env[config.api_key_env] || undefined,
    dimensions: config.dimensions,
    timeoutMs: config.timeout_ms,
    retries: config.retries,
    batchSize: config.batch_size,
  };
  return backend.create(settings);
}
