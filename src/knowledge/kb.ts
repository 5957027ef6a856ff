import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { AisocError, describeError } from '../errors.ts';
import { ATTACK_TACTICS } from '../schema/attack.ts';
import type { Queryable } from '../store/sql.ts';
import { silentLogger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { AttackCatalog, TechniqueSummary } from './attack/catalog.ts';
import {
  type AttackDomain,
  type AttackKnowledge,
  domainOf,
  type Tactic,
  type Technique,
} from './attack/model.ts';
import { REPO_ROOT } from './attack/source.ts';
import { type TechniqueView, techniqueView } from './attack/view.ts';
import { Closing } from './closing.ts';
import { BUILTIN_COLLECTIONS, Collection } from './collections.ts';
import type { KnowledgeConfig } from './config.ts';
import { readNvdFeed } from './cve.ts';
import { cleanDocument, type KnowledgeDocument } from './documents.ts';
import { BackgroundEmbedding } from './embed.ts';
import { createEmbedder, type Embedder } from './embeddings/index.ts';
import { type ClosedIncident, incidentDocument } from './incidents.ts';
import type { MapOptions, TechniqueMapper, TechniqueMatch } from './mapper/index.ts';
import { mapReport, type ReportMapping, type ReportOptions } from './mapper/report.ts';
import { knowledgeMetrics, setKnowledgeState } from './metrics.ts';
import { type RetrievalMode, type RetrieveRequest, type RetrieveResult, retrieveFrom } from './retrieve.ts';
import { loadRunbooks } from './runbooks.ts';
import { AttackIndexLoader, type IndexStatus } from './snapshot/load.ts';
import { type DocumentOrigin, KnowledgeDocumentStore } from './store.ts';

// The parts of the knowledge base are modules of their own; its callers import their types from here.
export type { TechniqueView } from './attack/view.ts';
export type { RetrievalMode, RetrieveHit, RetrieveRequest, RetrieveResult } from './retrieve.ts';
export type { IndexOrigin } from './snapshot/load.ts';

export type KnowledgeState = 'idle' | 'loading' | 'ready' | 'failed';

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
  /** A prebuilt ATT&CK index, opened as it is (the AWS analyst function's packaged asset). */
  snapshot?: Uint8Array;
  /** Counts index loads by origin (`aisoc_knowledge_index_loads_total`). */
  metrics?: Metrics;
  /**
   * Tests only: a SharedArrayBuffer-backed flag; while `holdBuild[0]` is 1
   * the index worker waits once it has built, before handing the index over.
   */
  holdBuild?: Int32Array;
}

/** The state of the knowledge base, as `aisoc kb status` prints it (the collections route shows part of it). */
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
    /** The matrices loaded and their technique counts (Enterprise first). */
    domains?: Array<{ domain: AttackDomain; techniques: number }>;
  };
  attack_error?: string;
  collections: Array<{ name: string; description: string; documents: number; vectors: number }>;
  embeddings: { backend: string; model?: string; pending: number; error?: string };
  mapper?: { passages: number; techniques: number; extra_examples: number; threshold: number };
  /** The ATT&CK index: built by a worker, read from the disk cache, or built inline (tests). */
  index?: IndexStatus;
  warnings: string[];
}

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
  private attack?: AttackCatalog;
  private mapper?: TechniqueMapper;
  private readonly attackIndex: AttackIndexLoader;
  private readonly embedding?: BackgroundEmbedding;
  private closed = false;
  private readonly warnings: string[] = [];
  /** Yield to the event loop between slices of loading work, and stop when closing. */
  private readonly pause = () =>
    this.closed ? Promise.reject(new Closing('closing')) : new Promise<void>((r) => setImmediate(r));

  constructor(private readonly options: KnowledgeBaseOptions) {
    this.logger = options.logger ?? silentLogger();
    this.env = options.env ?? process.env;
    this.embedder = options.embedder ?? createEmbedder(options.config.embeddings, this.env);
    this.docStore = options.db ? new KnowledgeDocumentStore(options.db) : undefined;
    for (const c of BUILTIN_COLLECTIONS) this.collections.set(c.name, new Collection(c.name, c.description));
    const closed = () => this.closed;
    const warn = (message: string) => this.warn(message);
    this.attackIndex = new AttackIndexLoader({
      config: options.config,
      env: this.env,
      dataDir: options.dataDir,
      attack: options.attack,
      snapshot: options.snapshot,
      metrics: options.metrics,
      holdBuild: options.holdBuild,
      closed,
      pause: this.pause,
      warn,
    });
    if (this.embedder)
      this.embedding = new BackgroundEmbedding({
        config: options.config,
        embedder: this.embedder,
        dataDir: options.dataDir,
        collections: () => this.collections.values(),
        closed,
        pause: this.pause,
        warn,
        logger: this.logger,
      });
  }

  get state(): KnowledgeState {
    return this.stateValue;
  }

  /** Change state, and show it on `aisoc_knowledge_state` (the KnowledgeBaseNotLoaded alert reads it). */
  private setState(state: KnowledgeState): void {
    this.stateValue = state;
    if (this.options.metrics) setKnowledgeState(knowledgeMetrics(this.options.metrics).knowledgeState, state);
  }

  /** Retrieval mode used when a request names none. */
  get defaultMode(): RetrievalMode {
    return this.options.config.default_mode ?? (this.embedder ? 'hybrid' : 'lexical');
  }

  /** Begin loading in the background (idempotent). */
  start(): void {
    if (this.loading || this.closed) return;
    this.setState('loading');
    this.startedAt = Date.now();
    this.loading = this.load().then(
      () => {
        this.setState('ready');
        this.loadMs = Date.now() - this.startedAt;
        this.logger.info(
          {
            load_ms: this.loadMs,
            attack: this.attack?.label ?? 'none',
            index: this.attackIndex.index.origin,
            collections: this.counts(),
          },
          'The knowledge base is ready.',
        );
        if (this.embedding && !this.closed) this.embedding.start();
      },
      (err) => {
        this.setState('failed');
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
    await this.embedding?.settled();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.attackIndex.stop();
    await this.loading?.catch(() => {});
    await this.embedding?.settled().catch(() => {});
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

  /** ATT&CK, its documents and index, and the mapper (see {@link AttackIndexLoader}), put in place. */
  private async loadAttack(): Promise<void> {
    const index = await this.attackIndex.load();
    if (!index) return;
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
      throw new AisocError(
        'AISOC_ERR_KNOWLEDGE_UNAVAILABLE',
        this.attackIndex.attackError ?? 'ATT&CK is not loaded.',
        {
          field: 'collection',
        },
      );
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
    return retrieveFrom(c, req, {
      config: this.options.config,
      embedder: this.embedder,
      defaultMode: this.defaultMode,
    });
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
    if (this.embedding && this.stateValue === 'ready' && !this.closed) this.embedding.schedule();
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

  /**
   * ATT&CK's tactics in the matrix's order and every technique, light (the
   * console's coverage matrix), with the resolver of revoked ids. Throws as
   * {@link technique} does while ATT&CK is loading or missing.
   */
  attackMatrix(): {
    tactics: Tactic[];
    techniques: TechniqueSummary[];
    currentId(id: string): string | undefined;
    technique(id: string): Technique | undefined;
  } {
    this.assertAvailable('mitre_attack');
    const attack = this.attack!;
    const rank = (s: string) => {
      const i = (ATTACK_TACTICS as readonly string[]).indexOf(s);
      return i < 0 ? ATTACK_TACTICS.length : i;
    };
    // The coverage matrix is Enterprise's: our detections watch enterprise telemetry; Mobile and ICS serve report mapping.
    return {
      tactics: attack.tactics
        .filter((t) => domainOf(t) === 'enterprise')
        .sort((a, b) => rank(a.shortname) - rank(b.shortname)),
      techniques: attack.listTechniques().filter((t) => t.domain === 'enterprise'),
      currentId: (id) => attack.currentId(id.toUpperCase()),
      technique: (id) => attack.technique(id),
    };
  }

  /** Everything the UI shows about a technique. */
  technique(id: string): TechniqueView {
    this.assertAvailable('mitre_attack');
    return techniqueView(this.attack!, id);
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
      throw new AisocError(
        'AISOC_ERR_KNOWLEDGE_UNAVAILABLE',
        this.attackIndex.attackError ?? 'ATT&CK is not loaded.',
      );
    return this.mapper.map(text, options);
  }

  /**
   * The ATT&CK techniques a whole threat report shows: each sentence mapped,
   * the sentences aggregated with the calibrated report thresholds
   * (`mapper/report.ts`), with the supporting sentences as evidence. Yields
   * to the event loop between slices of sentences. Waits for the knowledge
   * base to load.
   *
   * @example (await kb.mapReport(reportText)).techniques.map((t) => t.technique_id)
   */
  async mapReport(text: string, options: Omit<ReportOptions, 'pause'> = {}): Promise<ReportMapping> {
    await this.ready();
    if (!this.mapper)
      throw new AisocError(
        'AISOC_ERR_KNOWLEDGE_UNAVAILABLE',
        this.attackIndex.attackError ?? 'ATT&CK is not loaded.',
      );
    return mapReport(this.mapper, text, { ...options, pause: () => new Promise((r) => setImmediate(r)) });
  }

  /** The ATT&CK domains loaded (Enterprise first); empty before ATT&CK is loaded. */
  get attackDomains(): AttackDomain[] {
    return this.attack?.summary.domains?.map((d) => d.domain) ?? (this.attack ? ['enterprise'] : []);
  }

  /** The fitted mapper, once loaded (synchronous callers such as a detection stage). */
  get techniqueMapper(): TechniqueMapper | undefined {
    return this.mapper;
  }

  /** The state of loading, the collections, embeddings, ATT&CK, its index and the mapper. */
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
    if (this.embedding?.error) out.embeddings.error = this.embedding.error;
    if (this.attackIndex.attackError) out.attack_error = this.attackIndex.attackError;
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
      if (a.domains)
        out.attack.domains = a.domains.map((d) => ({ domain: d.domain, techniques: d.techniques }));
    }
    const index = this.attackIndex.index;
    if (index.origin || index.phase) out.index = { ...index };
    if (this.mapper) out.mapper = { ...this.mapper.trainedOn, threshold: this.mapper.params.threshold };
    return out;
  }
}
