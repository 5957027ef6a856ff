import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { describeError } from '../errors.ts';
import { Closing } from './closing.ts';
import { type Collection, documentHash } from './collections.ts';
import type { KnowledgeConfig } from './config.ts';
import type { KnowledgeDocument } from './documents.ts';
import type { Embedder } from './embeddings/index.ts';
import { VectorStore } from './index/vectors.ts';

const EMBED_TEXT_CHARS = 6000;

/** What background embedding works on and reports to. */
export interface EmbeddingOptions {
  config: KnowledgeConfig;
  embedder: Embedder;
  /** Where vectors persist (`<data_dir>/knowledge/`); none keeps them in memory. */
  dataDir?: string;
  /** The collections to embed, iterated afresh by each pass. */
  collections(): Iterable<Collection>;
  /** Whether the knowledge base is closing: a pass stops at its next collection or batch. */
  closed(): boolean;
  /** Yield to the event loop (rejects with {@link Closing} once closing began). */
  pause(): Promise<void>;
  warn(message: string): void;
  logger: Logger;
}

/**
 * Embeds, in the background, every document without a current vector,
 * collection by collection, saving vectors as it goes (under
 * `<data_dir>/knowledge/vectors/` when `knowledge.persist` is on). A failure
 * stops the pass and is kept in `error`; lexical retrieval goes on.
 *
 * @example
 * const embedding = new BackgroundEmbedding({ config, embedder, collections: () => map.values(), closed, pause, warn, logger });
 * embedding.start(); await embedding.settled();
 */
export class BackgroundEmbedding {
  /** Why the last pass stopped, when it failed. */
  error?: string;
  private embedding?: Promise<void>;

  constructor(private readonly options: EmbeddingOptions) {}

  /** The first pass, once the knowledge base is loaded. */
  start(): void {
    this.embedding = this.embedPending();
  }

  /** Another pass after the one running (documents were added). */
  schedule(): void {
    const previous = this.embedding ?? Promise.resolve();
    this.embedding = previous.then(() => this.embedPending());
  }

  /** Resolves when the passes started so far are done (rejects if one threw). */
  async settled(): Promise<void> {
    await this.embedding;
  }

  private get closed(): boolean {
    return this.options.closed();
  }

  private vectorFile(collection: string, model: string): string | undefined {
    if (!this.options.dataDir || !this.options.config.persist) return undefined;
    const safe = model.replace(/[^A-Za-z0-9._-]+/g, '_');
    return join(resolve(this.options.dataDir), 'knowledge', 'vectors', `${collection}.${safe}.bin`);
  }

  /** Embed every document without a current vector, collection by collection, saving as it goes. */
  private async embedPending(): Promise<void> {
    const embedder = this.options.embedder;
    const batch = this.options.config.embeddings.batch_size;
    try {
      for (const c of this.options.collections()) {
        if (this.closed) return;
        const file = this.vectorFile(c.name, embedder.model);
        if (!c.vectors) {
          c.vectors = new VectorStore(embedder.model);
          if (file && existsSync(file)) {
            try {
              c.vectors = VectorStore.load(file, embedder.model);
            } catch (err) {
              this.options.warn(`${describeError(err)}; re-embedding ${c.name}.`);
            }
          }
          // Vectors of documents that are gone would only take places in the ranking.
          for (const id of c.vectors.ids()) if (!c.get(id)) c.vectors.remove(id);
        }
        // Documents are decoded one by one (ATT&CK's live in a snapshot), yielding now and then.
        const unembedded: string[] = [];
        let seen = 0;
        for (const d of c.documents()) {
          if (c.vectors.hashOf(d.id) !== documentHash(d)) unembedded.push(d.id);
          if (++seen % 500 === 0) await this.options.pause();
        }
        for (let i = 0; i < unembedded.length && !this.closed; i += batch) {
          const slice = unembedded
            .slice(i, i + batch)
            .map((id) => c.get(id))
            .filter((d): d is KnowledgeDocument => d !== undefined);
          const vectors = await embedder.embed(
            slice.map((d) => `${d.title}\n${d.text}`.slice(0, EMBED_TEXT_CHARS)),
          );
          slice.forEach((d, j) => {
            c.vectors!.upsert(d.id, vectors[j]!, documentHash(d));
          });
          if (file && (i / batch) % 20 === 19) c.vectors.save(file);
        }
        if (file && unembedded.length) c.vectors.save(file);
      }
      this.error = undefined;
    } catch (err) {
      if (err instanceof Closing) return;
      this.error = describeError(err);
      this.options.logger.warn(
        { err: this.error },
        'Embedding the knowledge base stopped; lexical retrieval still works.',
      );
    }
  }
}
