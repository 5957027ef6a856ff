import { z } from 'zod';
import { AisocError } from '../../errors.ts';
import { postJson } from './http.ts';
import { type Embedder, type EmbedderSettings, embedInBatches } from './types.ts';

const Response = z.object({ embeddings: z.array(z.array(z.number())) });

/**
 * Embeddings from Ollama's `POST {url}/api/embed`. Request: `{model, input:
 * [...], truncate: true, dimensions?}`; answer: `{embeddings: [[...], ...]}`
 * in input order.
 *
 * @example
 * const e = new OllamaEmbedder({ url: 'http://127.0.0.1:11434', model: 'nomic-embed-text', timeoutMs: 30_000, retries: 2, batchSize: 64 });
 */
export class OllamaEmbedder implements Embedder {
  readonly backend = 'ollama' as const;
  readonly model: string;

  constructor(private readonly settings: EmbedderSettings) {
    this.model = settings.model;
  }

  embed(texts: readonly string[]): Promise<number[][]> {
    return embedInBatches(texts, this.settings.batchSize, (batch) => this.batch(batch));
  }

  private async batch(input: readonly string[]): Promise<number[][]> {
    const url = `${this.settings.url.replace(/\/+$/, '')}/api/embed`;
    // Truncate rather than fail on a text longer than the model's context: retrieval still works on its start.
    const body: Record<string, unknown> = { model: this.model, input, truncate: true };
    if (this.settings.dimensions) body.dimensions = this.settings.dimensions;
    const raw = await postJson(url, body, {
      headers: this.settings.apiKey ? { authorization: `Bearer ${this.settings.apiKey}` } : {},
      timeoutMs: this.settings.timeoutMs,
      retries: this.settings.retries,
      what: 'Ollama embeddings',
    });
    const parsed = Response.safeParse(raw);
    if (!parsed.success)
      throw new AisocError(
        'AISOC_ERR_EMBEDDINGS',
        `${url} answered without embeddings (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}).`,
        { field: 'knowledge.embeddings.url' },
      );
    if (parsed.data.embeddings.length !== input.length)
      throw new AisocError(
        'AISOC_ERR_EMBEDDINGS',
        `${url} returned ${parsed.data.embeddings.length} embeddings for ${input.length} inputs.`,
        { field: 'knowledge.embeddings.url' },
      );
    return parsed.data.embeddings;
  }
}
