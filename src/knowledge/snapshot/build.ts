/**
 * Runs the knowledge-index build on a worker thread, so the seconds of
 * parsing and indexing ATT&CK never hold the event loop.
 */
import type { Worker } from 'node:worker_threads';
import { AisocError, type ErrorCode } from '../../errors.ts';
import { startWorker, workerCode } from '../../workers.ts';
import type { MapperParams } from '../mapper/index.ts';

const WORKER = new URL('./worker.ts', import.meta.url);
const ENTRY = new URL('./worker-entry.mjs', import.meta.url);

/** What the worker builds from. */
export interface BuildJob {
  /** The ATT&CK STIX bundle (Enterprise). */
  bundle: string;
  /** Bundles of other domains (Mobile, ICS), merged after it. */
  extra_bundles?: string[];
  /** Mapper training files (labelled text). */
  training_files: string[];
  params: Partial<MapperParams>;
  /**
   * Tests only: a SharedArrayBuffer-backed flag; while `hold[0]` is 1 the
   * worker waits after building, before handing the result over.
   */
  hold?: Int32Array;
}

export type BuildPhase = 'parsing' | 'indexing' | 'held';

export type WorkerMessage =
  | { type: 'phase'; phase: BuildPhase }
  | { type: 'done'; bytes: ArrayBuffer; warnings: string[]; build_ms: number }
  | { type: 'error'; code: ErrorCode; message: string; field?: string; file?: string };

export interface BuildResult {
  bytes: Uint8Array;
  warnings: string[];
  build_ms: number;
}

/**
 * The code the worker runs (bundled once per process, off the event loop).
 * Its digest keys the disk cache: a change to the index code rebuilds.
 */
export function indexWorkerCode(): Promise<string | null> {
  return workerCode(WORKER);
}

/**
 * A build on its own thread; `result` settles when it is done, `stop()`
 * ends it early (the knowledge base closing). `heapLimitMb` caps the
 * thread's heap: the build's live data is under 100 MB, and without a cap V8
 * lets garbage grow to four times that before collecting; past the cap the
 * build fails with `details.reason: 'out_of_memory'`.
 *
 * @example
 * const build = startIndexBuild(await indexWorkerCode(), { bundle, training_files: [], params: {} });
 * const { bytes } = await build.result;
 */
export function startIndexBuild(
  code: string | null,
  job: BuildJob,
  onPhase: (phase: BuildPhase) => void = () => {},
  heapLimitMb?: number,
): { result: Promise<BuildResult>; stop: () => Promise<void> } {
  const worker: Worker = startWorker(
    code,
    ENTRY,
    heapLimitMb ? { resourceLimits: { maxOldGenerationSizeMb: heapLimitMb } } : {},
  );
  let settled = false;
  const result = new Promise<BuildResult>((resolve, reject) => {
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      reject(err);
    };
    worker.on('message', (msg: WorkerMessage) => {
      if (msg.type === 'phase') onPhase(msg.phase);
      else if (msg.type === 'done') {
        settled = true;
        resolve({ bytes: new Uint8Array(msg.bytes), warnings: msg.warnings, build_ms: msg.build_ms });
      } else
        fail(
          new AisocError(msg.code, msg.message, {
            ...(msg.field ? { field: msg.field } : {}),
            ...(msg.file ? { file: msg.file } : {}),
          }),
        );
    });
    worker.on('error', (err) => {
      const oom = (err as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY';
      fail(
        new AisocError('AISOC_ERR_INTERNAL', `The knowledge-index worker failed: ${err.message}`, {
          cause: err,
          ...(oom ? { details: { reason: 'out_of_memory' } } : {}),
        }),
      );
    });
    worker.on('exit', (code) => {
      fail(new AisocError('AISOC_ERR_INTERNAL', `The knowledge-index worker exited (code ${code}).`));
    });
  }).finally(() => {
    void worker.terminate();
  });
  worker.postMessage(job);
  return {
    result,
    stop: async () => {
      await worker.terminate();
    },
  };
}
