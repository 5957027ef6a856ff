import { resolve } from 'node:path';
import { AisocError, describeError } from '../../errors.ts';
import type { Metrics } from '../../telemetry/metrics.ts';
import { VERSION } from '../../version.ts';
import { codeDigest } from '../../workers.ts';
import type { AttackKnowledge } from '../attack/model.ts';
import { resolveAttackBundles } from '../attack/source.ts';
import { Closing } from '../closing.ts';
import { BUILTIN_COLLECTIONS } from '../collections.ts';
import type { KnowledgeConfig } from '../config.ts';
import { readLabelled } from '../mapper/datasets.ts';
import { knowledgeMetrics } from '../metrics.ts';
import { type BuildJob, type BuildPhase, indexWorkerCode, startIndexBuild } from './build.ts';
import { cacheDir, indexCacheKey, readCachedIndex, writeCachedIndex } from './cache.ts';
import { SNAPSHOT_FORMAT } from './format.ts';
import { type AttackIndex, buildAttackIndex, openAttackIndex } from './index.ts';

/** Where the ATT&CK index in memory came from. */
export type IndexOrigin = 'cache' | 'worker' | 'inline';

/** The ATT&CK index: built by a worker, read from the disk cache, or built inline (tests). */
export interface IndexStatus {
  origin?: IndexOrigin;
  /** While a worker builds: parsing, indexing (held: a test paused it). */
  phase?: BuildPhase;
  bytes?: number;
  build_ms?: number;
  file?: string;
}

/** What loading the ATT&CK index reads and reports to. */
export interface AttackIndexLoaderOptions {
  config: KnowledgeConfig;
  env: NodeJS.ProcessEnv;
  /** The data directory, whose `cache/` holds the index when `knowledge.index_cache_dir` is not set. */
  dataDir?: string;
  /** Use this ATT&CK instead of reading a bundle (tests, benchmarks); it is indexed on this thread. */
  attack?: AttackKnowledge;
  /**
   * A prebuilt index (`buildAttackIndex`'s bytes), opened as it is and never
   * built or cached: the AWS analyst function's packaged asset (docs/aws.md).
   */
  snapshot?: Uint8Array;
  /** Counts index loads by origin (`aisoc_knowledge_index_loads_total`). */
  metrics?: Metrics;
  /** Tests only: holds the worker once it has built (see `KnowledgeBaseOptions.holdBuild`). */
  holdBuild?: Int32Array;
  /** Whether the knowledge base is closing: no build starts, and a finished one is not used. */
  closed(): boolean;
  /** Yield to the event loop (rejects with {@link Closing} once closing began). */
  pause(): Promise<void>;
  /** Something was skipped or redone; loading goes on. */
  warn(message: string): void;
}

/**
 * Loads the ATT&CK part of the knowledge base (catalog, documents and
 * index, mapper): read from the disk cache when an index of the same inputs
 * is there, else built by a worker thread (and cached). The main thread only
 * opens the result, a few milliseconds of work; the parsed bundle never
 * reaches its heap. Without a bundle, or when the build fails, `attackError`
 * says why and the rest of the knowledge base still loads.
 *
 * @example
 * const loader = new AttackIndexLoader({ config, env: process.env, dataDir, closed, pause, warn });
 * const index = await loader.load(); // undefined without ATT&CK; loader.attackError says why
 */
export class AttackIndexLoader {
  /** Where the index came from, and the build's phase while a worker builds. */
  index: IndexStatus = {};
  /** Why ATT&CK is not loaded, when it is not. */
  attackError?: string;
  private stopBuild?: () => Promise<void>;
  private opened?: AttackIndex;

  private readonly loads?: ReturnType<typeof knowledgeMetrics>['knowledgeIndexLoads'];

  constructor(private readonly options: AttackIndexLoaderOptions) {
    if (options.metrics) this.loads = knowledgeMetrics(options.metrics).knowledgeIndexLoads;
  }

  private get closed(): boolean {
    return this.options.closed();
  }

  private warn(message: string): void {
    this.options.warn(message);
  }

  /** Stop a build in progress (closing). */
  async stop(): Promise<void> {
    await this.stopBuild?.();
  }

  /** Load the index: the opened catalog, collection and mapper, or undefined when ATT&CK is unavailable. */
  async load(): Promise<AttackIndex | undefined> {
    await this.loadAttack();
    return this.opened;
  }

  private async loadAttack(): Promise<void> {
    const cfg = this.options.config;
    const params = cfg.mapper.threshold === undefined ? {} : { threshold: cfg.mapper.threshold };
    let bytes: Uint8Array;
    if (this.options.snapshot) {
      bytes = this.options.snapshot;
      this.index = { origin: 'cache' };
    } else if (this.options.attack) {
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
      const choice = resolveAttackBundles(cfg, this.options.env);
      if (choice.bundles.length === 0) {
        this.attackError = `No ATT&CK bundle found (looked in ${choice.tried.join(', ')}); run \`aisoc kb load\` or set knowledge.attack_path.`;
        this.warn(this.attackError);
        return;
      }
      for (const m of choice.missing)
        this.warn(
          `No ${m.domain} ATT&CK bundle found (looked in ${m.tried.join(', ')}); loading without it. \`aisoc kb load\` fetches it.`,
        );
      const [enterprise, ...others] = choice.bundles;
      const job: BuildJob = {
        bundle: enterprise!.path,
        ...(others.length ? { extra_bundles: others.map((b) => b.path) } : {}),
        training_files: cfg.mapper.training_files,
        params,
      };
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
      let cached: Uint8Array | undefined;
      try {
        cached = dir ? await readCachedIndex(dir, key) : undefined;
      } catch (err) {
        this.warn(`The cached knowledge index is unusable (${describeError(err)}); rebuilding it.`);
      }
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
        this.loads?.inc({ origin: 'cache' });
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
    await this.options.pause();
    await this.useIndex(bytes);
    this.index.bytes = bytes.byteLength;
    this.loads?.inc({ origin: this.index.origin ?? 'inline' });
  }

  /** One build on a worker thread, stoppable by `stop()`. */
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

  /** Open an index snapshot (throws, changing nothing, if it is unusable). */
  private async useIndex(bytes: Uint8Array): Promise<void> {
    const description = BUILTIN_COLLECTIONS.find((c) => c.name === 'mitre_attack')!.description;
    this.opened = await openAttackIndex(bytes, description, () => this.options.pause());
  }
}
