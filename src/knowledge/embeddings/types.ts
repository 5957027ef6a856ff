/** Something that turns texts into vectors (one per text, in order). */
export interface Embedder {
  readonly backend: 'openai' | 'ollama';
  /** The model name; persisted vectors are keyed by it. */
  readonly model: string;
  embed(texts: readonly string[]): Promise<number[][]>;
}

export interface EmbedderSettings {
  /** Base URL: `https://api.openai.com/v1` (or any OpenAI-compatible server), `http://127.0.0.1:11434` for Ollama. */
  url: string;
  model: string;
  apiKey?: string;
  /** Ask for this many dimensions (OpenAI text-embedding-3 and Ollama support it). */
  dimensions?: number;
  timeoutMs: number;
  retries: number;
  /** Texts per request. */
  batchSize: number;
}

/** Split texts into batches, embed each in turn, and check every answer has one vector per text. */
export async function embedInBatches(
  texts: readonly string[],
  batchSize: number,
  one: (batch: readonly string[]) => Promise<number[][]>,
): Promise<number[][]> {
  const out: number[][] = [];
  for (let i = 0; i < texts.length; i += batchSize) out.push(...(await one(texts.slice(i, i + batchSize))));
  return out;
}
