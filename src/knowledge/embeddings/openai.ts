import { z } from 'zod';
import { AisocError } from '../../errors.ts';
import { postJson } from './http.ts';
import { type Embedder, type EmbedderSettings, embedInBatches } from './types.ts';

const Response = z.object({
  data: z.array(z.object({ index: z.number().int().min(0), embedding: z.array(z.number()) })),
});

/**
 * Embeddings from an OpenAI-compatible `POST {url}/embeddings` (OpenAI, Azure
 * OpenAI behind a compatible gateway, vLLM, llama.cpp server, LM Studio,
 * Ollama's `/v1`). Request: `{model, input: [...], encoding_format: "float",
 * dimensions?}`; answer: `{data: [{index, embedding}]}`, reordered by index.
 *
 * @example
 * const e = new OpenAiEmbedder({ url: 'https://api.openai.com/v1', model: 'text-embedding-3-small', apiKey, timeoutMs: 30_000, retries: 2, batchSize: 64 });
 * const [v] = await e.embed(['LSASS memory dump']);
 */
export class OpenAiEmbedder implements Embedder {
  readonly backend = 'openai' as const;
  readonly model: string;

  constructor(private readonly settings: EmbedderSettings) {
    this.model = settings.model;
  }

  embed(texts: readonly string[]): Promise<number[][]> {
    return embedInBatches(texts, this.settings.batchSize, (batch) => this.batch(batch));
  }

  private async batch(input: readonly string[]): Promise<number[][]> {
    const url = `${this.settings.url.replace(/\/+$/, '')}/embeddings`;
    const body: Record<string, unknown> = { model: this.model, input, encoding_format: 'float' };
    if (this.settings.dimensions) body.dimensions = this.settings.dimensions;
    const raw = await postJson(url, body, {
      headers: this.settings.apiKey ? { authorization: `Bearer ${this.settings.apiKey}` } : {},
      timeoutMs: this.settings.timeoutMs,
      retries: this.settings.retries,
      what: 'OpenAI-compatible embeddings',
    });
    const parsed = Response.safeParse(raw);
    if (!parsed.success)
      throw new AisocError(
        'AISOC_ERR_EMBEDDINGS',
        `${url} answered without data[].embedding (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}).`,
        { field: 'knowledge.embeddings.url' },
      );
    const out: number[][] = new Array(input.length);
    for (const d of parsed.data.data) if (d.index < input.length) out[d.index] = d.embedding;
    for (let i = 0; i < input.length; i++)
      if (!out[i])
        throw new AisocError(
          'AISOC_ERR_EMBEDDINGS',
          `${url} returned no embedding for input ${i} of ${input.length}.`,
          {
            field: 'knowledge.embeddings.url',
          },
        );
    return out;
  }
}
