import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { AisocError, describeError } from '../errors.ts';
import type { Queryable } from '../store/sql.ts';
import { silentLogger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { VERSION } from '../version.ts';
import { codeDigest } from '../workers.ts';
import type { AttackCatalog } from './attack/catalog.ts';
import type { AttackKnowledge, Technique } from './attack/model.ts';
import { REPO_ROOT, resolveAttackPath } from './attack/source.ts';
import { BUILTIN_COLLECTIONS, Collection, documentHash } from './collections.ts';
import type { KnowledgeConfig } from './config.ts';
import { readNvdFeed } from './cve.ts';
import { cleanDocument, type KnowledgeDocument } from './documents.ts';
import { createEmbedder, type Embedder } from './embeddings/index.ts';
import { type ClosedIncident, incidentDocument } from './incidents.ts';
import { fuseRanks } from './index/hybrid.ts';
import { VectorStore } from './index/vectors.ts';
import { readLabelled } from './mapper/datasets.ts';
import type { MapOptions, TechniqueMapper, TechniqueMatch } from './mapper/index.ts';
import { knowledgeMetrics } from './metrics.ts';
import { loadRunbooks } from './runbooks.ts';
import { type BuildJob, type BuildPhase, indexWorkerCode, startIndexBuild } from './snapshot/build.ts';
import { cacheDir, indexCacheKey, readCachedIndex, writeCachedIndex } from './snapshot/cache.ts';
import { SNAPSHOT_FORMAT } from './snapshot/format.ts';
import { buildAttackIndex, openAttackIndex } from './snapshot/index.ts';
import { type DocumentOrigin, KnowledgeDocumentStore } from './store.ts';

export type RetrievalMode = 'lexical' | 'dense' | 'hybrid';
export type KnowledgeState = 'idle' | 'loading' | 'ready' | 'failed';

export interface RetrieveRequest {
  query: string;
  collection?: string;
  top_k?: number;
  min_similarity?: number;
  mode?: RetrievalMode;
  /** Keep only documents whose `metadata.kind` is one of these (technique, procedure, mitigation, …). */
  kinds?: string[];
}

export interface RetrieveHit {
  id: string;
  title: string;
  document: string;
  metadata: KnowledgeDocument['metadata'];
  similarity_score: number;
}

export interface RetrieveResult {
  query: string;
  collection: string;
  mode: RetrievalMode;
  results: RetrieveHit[];
  total_results: number;
  warnings: string[];
}

export interface KnowledgeBaseOptions {
  config: KnowledgeConfig;
  /** Where vectors persist (`<data_dir>/knowledge/`); none keeps everything in memory. */
  dataDir?: string;
  /** The database holding documents added at run time; none keeps them in memory only. */
  db?: Queryable;
  logger?: Logger;
  env?: NodeJS.ProcessEnv;
  /** Replace the configured embedder (tests, benchmarks). */
  embedder?: Embedder;
  /** Built-in runbooks (default `content/runbooks/` of the repository). */
  builtinRunbooks?: string;
  /** Use this ATT&CK instead of reading a bundle (tests, benchmarks); it is indexed on this thread. */
  attack?: AttackKnowledge;
  /** Counts index loads by origin (`aisoc_knowledge_index_loads_total`). */
  metrics?: Metrics;
  /**
   * Tests only: a SharedArrayBuffer-backed flag; while `holdBuild[0]` is 1
   * the index worker waits once it has built, before handing the index over.
   */
  holdBuild?: Int32Array;
}

/** Where the ATT&CK index in memory came from. */
export type IndexOrigin = 'cache' | 'worker' | 'inline';

export interface TechniqueView {
  technique: Technique;
  name: string;
  /** Set when the id asked for was revoked and this technique replaced it. */
  replaces?: string;
  parent?: { id: string; name: string };
  subtechniques: Array<{ id: string; name: string }>;
  tactics: Array<{ id: string; name: string; shortname: string }>;
  detection_strategies: Array<{
    id: string;
    name: string;
    url: string;
    analytics: Array<{ id: string; platforms: string[]; text: string; log_sources: string[] }>;
  }>;
  procedures: Array<{ source_id: string; source_name: string; source_kind: string; text: string }>;
  procedure_count: number;
  attack_version: string;
}

export interface KnowledgeStatus {
  state: KnowledgeState;
  error?: string;
  load_ms?: number;
  attack?: {
    version: string;
    source: string;
    techniques: number;
    procedures: number;
    mitigations: number;
    skipped_revoked_or_deprecated: number;
  };
  attack_error?: string;
  collections: Array<{ name: string; description: string; documents: number; vectors: number }>;
  embeddings: { backend: string; model?: string; pending: number; error?: string };
  mapper?: { passages: number; techniques: number; extra_examples: number; threshold: number };
  /** The ATT&CK index: built by a worker, read from the disk cache, or built inline (tests). */
  index?: {
    origin?: IndexOrigin;
    /** While a worker builds: parsing, indexing (held: a test paused it). */
    phase?: BuildPhase;
    bytes?: number;
    build_ms?: number;
    file?: string;
  };
  warnings: string[];
}

const PROCEDURES_IN_VIEW = 500;
const EMBED_TEXT_CHARS = 6000;

/** Thrown into a load that the knowledge base's closing interrupted. */
class Closing extends Error {}

/**
 * The knowledge base: ATT&CK, runbooks, closed incidents and CVEs, indexed
 * for retrieval (BM25, optional embeddings, hybrid fusion), and the
 * text→technique mapper. It loads once, in the background: until it is
 * ready, requests that need it get `AISOC_ERR_KNOWLEDGE_LOADING` (503 with
 * Retry-After).
 *
 * @example
 * const kb = new KnowledgeBase({ config: appConfig.knowledge, dataDir: appConfig.data_dir, db: store.client });
 * await kb.ready();
 * const { results } = await kb.retrieve({ query: 'lsass memory dump', top_k: 3 });
 */
export class KnowledgeBase {
  private readonly collections = new Map<string, Collection>();
  private readonly logger: Logger;
  private readonly env: NodeJS.ProcessEnv;
  private readonly embedder?: Embedder;
  private readonly docStore?: KnowledgeDocumentStore;
  private stateValue: KnowledgeState = 'idle';
  private loading?: Promise<void>;
  private startedAt = 0;
  private loadMs?: number;
  private error?: string;
  private attackError?: string;
  private attack?: AttackCatalog;
  private mapper?: TechniqueMapper;
  private index: NonNullable<KnowledgeStatus['index']> = {};
  private stopBuild?: () => Promise<void>;
  private embedding?: Promise<void>;
  private embedError?: string;
  private closed = false;
  private readonly warnings: string[] = [];
  private readonly metrics?: ReturnType<typeof knowledgeMetrics>;
  /** Yield to the event loop between slices of loading work, and stop when closing. */
  private readonly pause = () =>
    this.closed ? Promise.reject(new Closing('closing')) : new Promise<void>((r) => setImmediate(r));

  constructor(private readonly options: KnowledgeBaseOptions) {
    this.logger = options.logger ?? silentLogger();
    this.env = options.env ?? process.env;
    this.embedder = options.embedder ?? createEmbedder(options.config.embeddings, this.env);
    this.docStore = options.db ? new KnowledgeDocumentStore(options.db) : undefined;
    if (options.metrics) this.metrics = knowledgeMetrics(options.metrics);
    for (const c of BUILTIN_COLLECTIONS) this.collections.set(c.name, new Collection(c.name, c.description));
  }

  get state(): KnowledgeState {
    return this.stateValue;
  }

  /** Retrieval mode used when a request names none. */
  get defaultMode(): RetrievalMode {
    return this.options.config.default_mode ?? (this.embedder ? 'hybrid' : 'lexical');
  }

  /** Begin loading in the background (idempotent). */
  start(): void {
    if (this.loading || this.closed) return;
    this.stateValue = 'loading';
    this.startedAt = Date.now();
    this.loading = this.load().then(
      () => {
        this.stateValue = 'ready';
        this.loadMs = Date.now() - this.startedAt;
        this.logger.info(
          {
            load_ms: this.loadMs,
            attack: this.attack?.label ?? 'none',
            index: this.index.origin,
            collections: this.counts(),
          },
          'The knowledge base is ready.',
        );
        if (this.embedder && !this.closed) this.embedding = this.embedPending();
      },
      (err) => {
        this.stateValue = 'failed';
        this.error = describeError(err);
        if (!(err instanceof Closing))
          this.logger.error({ err: this.error }, 'The knowledge base failed to load.');
      },
    );
  }

  /** Load (if not yet) and wait until ready. Rejects if loading failed. */
  async ready(): Promise<void> {
    this.start();
    await this.loading;
    if (this.stateValue === 'failed')
      throw new AisocError(
        'AISOC_ERR_KNOWLEDGE_UNAVAILABLE',
        `The knowledge base failed to load: ${this.error}`,
      );
  }

  /** Wait for background embedding to finish (tests, `kb embed`). */
  async embeddingsSettled(): Promise<void> {
    await this.loading;
    await this.embedding;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.stopBuild?.();
    await this.loading?.catch(() => {});
    await this.embedding?.catch(() => {});
  }

  private counts(): Record<string, number> {
    return Object.fromEntries([...this.collections].map(([n, c]) => [n, c.size]));
  }

  private async load(): Promise<void> {
    const cfg = this.options.config;
    const builtin = this.options.builtinRunbooks ?? join(REPO_ROOT, 'content', 'runbooks');
    const runbooks = loadRunbooks(
      [...(existsSync(builtin) ? [builtin] : []), ...cfg.runbook_dirs],
      REPO_ROOT,
    );
    for (const e of runbooks.errors) this.warn(e.message);
    for (const d of runbooks.documents) this.collections.get('runbooks')!.upsert(d);

    for (const file of cfg.cve_files) {
      try {
        const feed = readNvdFeed(file);
        for (const d of feed.documents) this.collections.get('cve')!.upsert(d);
        if (feed.invalid.length)
          this.warn(
            `${file}: ${feed.invalid.length} CVE record(s) skipped, first at ${feed.invalid[0]!.field}`,
          );
      } catch (err) {
        this.warn(describeError(err));
      }
      await this.pause();
    }

    await this.loadAttack();

    // After ATT&CK: a document added at run time under a built-in id replaces it, as it did before the restart.
    if (this.docStore) {
      for (const d of await this.docStore.all()) this.collection(d.collection, true).upsert(d);
    }
  }

  /**
   * ATT&CK, its documents and index, and the mapper: read from the disk
   * cache when an index of the same inputs is there, else built by a worker
   * thread (and cached). The main thread only opens the result, a few
   * milliseconds of work; the parsed bundle never reaches its heap.
   */
  private async loadAttack(): Promise<void> {
    const cfg = this.options.config;
    const params = cfg.mapper.threshold === undefined ? {} : { threshold: cfg.mapper.threshold };
    let bytes: Uint8Array;
    if (this.options.attack) {
      const extra = cfg.mapper.training_files.flatMap((f) => {
        try {
          return readLabelled(f);
        } catch (err) {
          this.warn(`Mapper training file skipped: ${describeError(err)}`);
          return [];
        }
      });
      bytes = new Uint8Array(buildAttackIndex(this.options.attack, { extra, params }));
      this.index = { origin: 'inline' };
    } else {
      const choice = resolveAttackPath(cfg, this.env);
      if (!choice.path) {
        this.attackError = `No ATT&CK bundle found (looked in ${choice.tried.join(', ')}); run \`aisoc kb load\` or set knowledge.attack_path.`;
        this.warn(this.attackError);
        return;
      }
      const job: BuildJob = { bundle: choice.path, training_files: cfg.mapper.training_files, params };
      const code = await indexWorkerCode();
      // A held build is a test of the build itself: it never comes from a cache.
      const dir =
        !cfg.cache_index || this.options.holdBuild
          ? undefined
          : cfg.index_cache_dir
            ? resolve(cfg.index_cache_dir)
            : this.options.dataDir
              ? cacheDir(this.options.dataDir)
              : undefined;
      const key = indexCacheKey(job, codeDigest(code, `${VERSION} format ${SNAPSHOT_FORMAT}`));
      const cached = dir ? await readCachedIndex(dir, key) : undefined;
      if (this.closed) throw new Closing('closing');
      let opened: Uint8Array | undefined;
      if (cached) {
        try {
          await this.useIndex(cached);
          opened = cached;
          this.index = { origin: 'cache', bytes: cached.byteLength };
        } catch (err) {
          if (err instanceof Closing) throw err;
          this.warn(`The cached knowledge index is unusable (${describeError(err)}); rebuilding it.`);
        }
      }
      if (opened) {
        this.metrics?.knowledgeIndexLoads.inc({ origin: 'cache' });
        return;
      }
      let built: Awaited<ReturnType<typeof startIndexBuild>['result']>;
      try {
        built = await this.buildIndex(code, job, cfg.build_heap_limit_mb || undefined).catch((err) => {
          if (!(err instanceof AisocError) || err.details?.reason !== 'out_of_memory') throw err;
          this.warn(
            `Building the ATT&CK index needed more than knowledge.build_heap_limit_mb (${cfg.build_heap_limit_mb} MiB); built again without a limit. Raise the limit to keep this from happening at each build.`,
          );
          return this.buildIndex(code, job, undefined);
        });
      } catch (err) {
        if (this.closed) throw new Closing('closing');
        this.attackError = describeError(err);
        this.warn(this.attackError);
        return;
      }
      for (const w of built.warnings) this.warn(w);
      bytes = built.bytes;
      this.index = { origin: 'worker', build_ms: built.build_ms };
      if (dir) {
        try {
          this.index.file = await writeCachedIndex(dir, key, bytes);
        } catch (err) {
          this.warn(
            `The knowledge index could not be cached (${describeError(err)}); the next start rebuilds it.`,
          );
        }
      }
    }
    await this.pause();
    await this.useIndex(bytes);
    this.index.bytes = bytes.byteLength;
    this.metrics?.knowledgeIndexLoads.inc({ origin: this.index.origin ?? 'inline' });
  }

  /** One build on a worker thread, stoppable by `close()`. */
  private async buildIndex(code: string | null, job: BuildJob, heapLimitMb: number | undefined) {
    if (this.closed) throw new Closing('closing');
    const build = startIndexBuild(
      code,
      { ...job, ...(this.options.holdBuild ? { hold: this.options.holdBuild } : {}) },
      (phase) => {
        this.index.phase = phase;
      },
      heapLimitMb,
    );
    this.stopBuild = build.stop;
    try {
      return await build.result;
    } finally {
      this.stopBuild = undefined;
    }
  }

  /** Open an index snapshot and put it in place (throws, changing nothing, if it is unusable). */
  private async useIndex(bytes: Uint8Array): Promise<void> {
    const description = BUILTIN_COLLECTIONS.find((c) => c.name === 'mitre_attack')!.description;
    const index = await openAttackIndex(bytes, description, this.pause);
    this.collections.set('mitre_attack', index.collection);
    this.mapper = index.mapper;
    this.attack = index.catalog;
  }

  private warn(message: string): void {
    this.warnings.push(message);
    this.logger.warn({ warning: message }, 'The knowledge base skipped something.');
  }

  private collection(name: string, create = false): Collection {
    let c = this.collections.get(name);
    if (!c && create) {
      c = new Collection(name, 'Documents added through the API');
      this.collections.set(name, c);
    }
    if (!c)
      throw new AisocError(
        'AISOC_ERR_NOT_FOUND',
        `No collection ${name}; there are ${[...this.collections.keys()].join(', ')}.`,
        { field: 'collection' },
      );
    return c;
  }

  /**
   * Throw the error a client should see when `collection` cannot answer yet:
   * 503 loading (with Retry-After), or 503 unavailable. Starts a lazy load.
   */
  assertAvailable(collection: string): void {
    if (this.stateValue === 'idle') this.start();
    if (this.stateValue === 'loading') {
      const expected = this.loadMs ?? 8000;
      const left = Math.max(1, Math.ceil((expected - (Date.now() - this.startedAt)) / 1000));
      throw new AisocError(
        'AISOC_ERR_KNOWLEDGE_LOADING',
        `The knowledge base is loading; retry in ${left} s.`,
        {
          retryAfterSeconds: left,
        },
      );
    }
    if (this.stateValue === 'failed')
      throw new AisocError(
        'AISOC_ERR_KNOWLEDGE_UNAVAILABLE',
        `The knowledge base failed to load: ${this.error}`,
      );
    if (collection === 'mitre_attack' && !this.attack)
      throw new AisocError('AISOC_ERR_KNOWLEDGE_UNAVAILABLE', this.attackError ?? 'ATT&CK is not loaded.', {
        field: 'collection',
      });
  }

  /**
   * Retrieve documents for a query. Similarity depends on the mode:
   * lexical — BM25 score over the query's best possible score (0–1);
   * dense — cosine similarity of embeddings; hybrid — reciprocal-rank fusion
   * normalised so 1 means first in both rankings.
   */
  async retrieve(req: RetrieveRequest): Promise<RetrieveResult> {
    const name = req.collection ?? 'mitre_attack';
    const c = this.collection(name);
    this.assertAvailable(name);
    const topK = req.top_k ?? 3;
    const min = req.min_similarity ?? 0;
    const warnings: string[] = [];
    let mode = req.mode ?? this.defaultMode;
    if (mode !== 'lexical' && !this.embedder)
      throw new AisocError(
        'AISOC_ERR_VALIDATION',
        `Retrieval mode ${mode} needs an embeddings backend (knowledge.embeddings.backend); this server has none.`,
        { field: 'mode' },
      );
    const kinds = req.kinds?.length ? new Set(req.kinds) : undefined;
    const filter = kinds ? (id: string) => kinds.has(String(c.kindOf(id))) : undefined;
    const candidates = Math.max(topK, this.options.config.hybrid.candidates);

    let denseIds: Array<{ id: string; similarity: number }> = [];
    if (mode !== 'lexical') {
      if (!c.vectors || c.vectors.size === 0) {
        warnings.push(
          `The ${name} collection has no embeddings yet; ${mode === 'dense' ? 'no dense results' : 'lexical results only'}.`,
        );
      } else {
        try {
          const [q] = await this.embedder!.embed([req.query]);
          denseIds = c.vectors.search(q!, mode === 'dense' ? topK : candidates, filter);
        } catch (err) {
          if (mode === 'dense') throw err;
          warnings.push(`Embedding the query failed (${describeError(err)}); lexical results only.`);
        }
      }
      if (mode === 'hybrid' && denseIds.length === 0) mode = 'lexical';
    }

    let hits: Array<{ id: string; similarity: number }>;
    if (mode === 'lexical') {
      hits = c.lexical.search(req.query, { topK, filter, minSimilarity: min });
    } else if (mode === 'dense') {
      hits = denseIds.filter((h) => h.similarity >= min);
    } else {
      const lexical = c.lexical.search(req.query, { topK: candidates, filter });
      const { lexical_weight, dense_weight, rrf_k } = this.options.config.hybrid;
      hits = fuseRanks(
        [
          { weight: lexical_weight, ids: lexical.map((h) => h.id) },
          { weight: dense_weight, ids: denseIds.map((h) => h.id) },
        ],
        rrf_k,
      )
        .filter((h) => h.similarity >= min)
        .slice(0, topK);
    }
    const results = hits
      .map((h) => {
        const doc = c.get(h.id);
        return doc
          ? {
              id: doc.id,
              title: doc.title,
              document: doc.text,
              metadata: doc.metadata,
              similarity_score: round(h.similarity),
            }
          : undefined;
      })
      .filter((h): h is RetrieveHit => Boolean(h));
    return { query: req.query, collection: name, mode, results, total_results: results.length, warnings };
  }

  /** Collections with their sizes. */
  listCollections(): KnowledgeStatus['collections'] {
    return [...this.collections.values()].map((c) => ({
      name: c.name,
      description: c.description,
      documents: c.size,
      vectors: c.vectors?.size ?? 0,
    }));
  }

  /**
   * Add or replace documents (persisted when the knowledge base has a
   * database). Unknown collections are created.
   */
  async addDocuments(
    collection: string,
    docs: readonly KnowledgeDocument[],
    addedBy: string,
    origin: DocumentOrigin = 'api',
  ) {
    const c = this.collection(collection, true);
    const clean = docs.map(cleanDocument);
    for (const d of clean) await this.docStore?.upsert(collection, d, origin, addedBy);
    for (const d of clean) c.upsert(d);
    if (this.embedder && this.stateValue === 'ready' && !this.closed) {
      const previous = this.embedding ?? Promise.resolve();
      this.embedding = previous.then(() => this.embedPending());
    }
    return { collection, added: clean.length, ids: clean.map((d) => d.id) };
  }

  /**
   * Remove a document added at run time (API, incident, case). Built-in
   * content (ATT&CK, runbooks, CVE feeds) comes back from its files, so it
   * cannot be removed here.
   */
  async removeDocument(collection: string, id: string): Promise<boolean> {
    const c = this.collection(collection);
    const stored = this.docStore ? await this.docStore.remove(collection, id) : false;
    if (!stored) return false;
    c.remove(id);
    return true;
  }

  /**
   * Index a closed incident or case into the `incidents` collection (for the
   * response and case engines to call when one closes). Closing again
   * replaces the document.
   *
   * @example await runtime.knowledge.indexIncident({ incident, case: kase, summary: 'Key disabled; no data accessed.' })
   */
  async indexIncident(input: ClosedIncident, actor = 'system'): Promise<KnowledgeDocument> {
    const doc = incidentDocument(input);
    await this.addDocuments('incidents', [doc], actor, input.incident ? 'incident' : 'case');
    return doc;
  }

  /** An ATT&CK technique by id, if ATT&CK is loaded (revoked ids resolve to their replacement). */
  lookupTechnique(id: string): Technique | undefined {
    if (!this.attack) return undefined;
    const current = this.attack.currentId(id.toUpperCase());
    return current ? this.attack.technique(current) : undefined;
  }

  /** Everything the UI shows about a technique. */
  technique(id: string): TechniqueView {
    this.assertAvailable('mitre_attack');
    const attack = this.attack!;
    const wanted = id.toUpperCase().replace('/', '.');
    const current = attack.currentId(wanted);
    const t = current ? attack.technique(current) : undefined;
    if (!t)
      throw new AisocError('AISOC_ERR_NOT_FOUND', `No ATT&CK technique ${id} in ${attack.label}.`, {
        field: 'id',
      });
    const parent = t.parent_id ? attack.technique(t.parent_id) : undefined;
    return {
      technique: t,
      name: parent ? `${parent.name}: ${t.name}` : t.name,
      ...(current !== wanted ? { replaces: wanted } : {}),
      ...(parent ? { parent: { id: parent.id, name: parent.name } } : {}),
      subtechniques: t.subtechniques.map((s) => ({ id: s, name: attack.technique(s)?.name ?? s })),
      tactics: t.tactics.map((s) => {
        const tac = attack.tactics.find((x) => x.shortname === s);
        return { id: tac?.id ?? s, name: tac?.name ?? s, shortname: s };
      }),
      detection_strategies: t.detection_strategies.flatMap((d) => {
        const ds = attack.detectionStrategy(d);
        return ds
          ? [
              {
                id: ds.id,
                name: ds.name,
                url: ds.url,
                analytics: ds.analytics.map((a) => ({
                  id: a.id,
                  platforms: a.platforms,
                  text: a.text,
                  log_sources: a.log_sources.map((l) => `${l.name}${l.channel ? ` (${l.channel})` : ''}`),
                })),
              },
            ]
          : [];
      }),
      procedures: attack.proceduresOf(t.id, PROCEDURES_IN_VIEW).map((p) => ({
        source_id: p.source_id,
        source_name: p.source_name,
        source_kind: p.source_kind,
        text: p.text,
      })),
      procedure_count: attack.procedureCount(t.id),
      attack_version: attack.label,
    };
  }

  /**
   * ATT&CK techniques for a text (alert description, log line, report
   * sentence), best first, with the evidence that matched. Waits for the
   * knowledge base to load.
   *
   * @example (await kb.mapTextToTechniques('schtasks /create /tn updater', { topK: 3 }))[0]?.technique_id // 'T1053.005'
   */
  async mapTextToTechniques(text: string, options: MapOptions = {}): Promise<TechniqueMatch[]> {
    await this.ready();
    if (!this.mapper)
      throw new AisocError('AISOC_ERR_KNOWLEDGE_UNAVAILABLE', this.attackError ?? 'ATT&CK is not loaded.');
    return this.mapper.map(text, options);
  }

  /** The fitted mapper, once loaded (synchronous callers such as a detection stage). */
  get techniqueMapper(): TechniqueMapper | undefined {
    return this.mapper;
  }

  status(): KnowledgeStatus {
    const pending = [...this.collections.values()].reduce(
      (n, c) => n + (this.embedder ? c.size - (c.vectors?.size ?? 0) : 0),
      0,
    );
    const out: KnowledgeStatus = {
      state: this.stateValue,
      collections: this.listCollections(),
      embeddings: { backend: this.options.config.embeddings.backend, model: this.embedder?.model, pending },
      warnings: [...this.warnings],
    };
    if (this.error) out.error = this.error;
    if (this.loadMs !== undefined) out.load_ms = this.loadMs;
    if (this.embedError) out.embeddings.error = this.embedError;
    if (this.attackError) out.attack_error = this.attackError;
    if (this.attack) {
      const a = this.attack.summary;
      out.attack = {
        version: a.label,
        source: a.source,
        techniques: a.techniques,
        procedures: a.procedures,
        mitigations: a.mitigations,
        skipped_revoked_or_deprecated: a.stats.skipped_revoked_or_deprecated,
      };
    }
    if (this.index.origin || this.index.phase) out.index = { ...this.index };
    if (this.mapper) out.mapper = { ...this.mapper.trainedOn, threshold: this.mapper.params.threshold };
    return out;
  }

  private vectorFile(collection: string, model: string): string | undefined {
    if (!this.options.dataDir || !this.options.config.persist) return undefined;
    const safe = model.replace(/[^A-Za-z0-9._-]+/g, '_');
    return join(resolve(this.options.dataDir), 'knowledge', 'vectors', `${collection}.${safe}.bin`);
  }

  /** Embed every document without a current vector, collection by collection, saving as it goes. */
  private async embedPending(): Promise<void> {
    const embedder = this.embedder;
    if (!embedder) return;
    const batch = this.options.config.embeddings.batch_size;
    try {
      for (const c of this.collections.values()) {
        if (this.closed) return;
        const file = this.vectorFile(c.name, embedder.model);
        if (!c.vectors) {
          c.vectors = new VectorStore(embedder.model);
          if (file && existsSync(file)) {
            try {
              c.vectors = VectorStore.load(file, embedder.model);
            } catch (err) {
              this.warn(`${describeError(err)}; re-embedding ${c.name}.`);
            }
          }
          // Vectors of documents that are gone would only take places in the ranking.
          for (const id of c.vectors.ids()) if (!c.get(id)) c.vectors.remove(id);
        }
        // Documents are decoded one by one (ATT&CK's live in a snapshot), yielding now and then.
        const todo: string[] = [];
        let seen = 0;
        for (const d of c.documents()) {
          if (c.vectors.hashOf(d.id) !== documentHash(d)) todo.push(d.id);
          if (++seen % 500 === 0) await this.pause();
        }
        for (let i = 0; i < todo.length && !this.closed; i += batch) {
          const slice = todo
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
        if (file && todo.length) c.vectors.save(file);
      }
      this.embedError = undefined;
    } catch (err) {
      if (err instanceof Closing) return;
      this.embedError = describeError(err);
      this.logger.warn(
        { err: this.embedError },
        'Embedding the knowledge base stopped; lexical retrieval still works.',
      );
    }
  }
}

function round(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}
