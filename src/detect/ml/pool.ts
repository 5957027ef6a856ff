/**
 * Runs training tasks on worker threads (or inline when `threads` is 0).
 * Data is shared once through SharedArrayBuffers; each task returns one
 * tree. Results never depend on which thread ran a task.
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { AisocError } from '../../errors.ts';
import { startWorker, workerCodeSync } from '../../workers.ts';
import { type BinnedMatrix, MAX_BINS } from './binning.ts';
import { type BinTask, runTask, type SharedData, type Task, type TaskResult } from './tasks.ts';
import type { FlatTree } from './trees/ensemble.ts';

const ENTRY = new URL('./worker-entry.mjs', import.meta.url);
const WORKER = new URL('./worker.ts', import.meta.url);

/**
 * Build the worker bundle now rather than at the first training (a one-off
 * cost per process, ~0.1 s).
 *
 * @example
 * prepareWorkers();
 */
export function prepareWorkers(): void {
  workerCodeSync(WORKER);
}

function spawn(): Worker {
  return startWorker(workerCodeSync(WORKER), ENTRY);
}

interface Pending {
  resolve: (t: TaskResult) => void;
  reject: (e: Error) => void;
}

/** Threads to use when the caller does not say: every core (training is the only work while it runs). */
export function defaultThreads(): number {
  return Math.max(1, availableParallelism());
}

/**
 * Threads worth starting for an amount of work (row × feature × tree
 * visits): a worker costs ~0.1 s to start, more than small jobs take inline.
 * Results do not depend on it.
 */
export function threadsFor(requested: number, work: number, force = false): number {
  return force || work >= 2e7 ? requested : 0;
}

/**
 * Workers kept between trainings (unref'd, so they never hold the process
 * open): a second training in the same process — a server retraining, a
 * benchmark's repeat — starts on warm threads whose code is already
 * optimised, as scikit-learn's and XGBoost's thread pools are.
 */
const parked: Worker[] = [];

function acquire(n: number): Worker[] {
  const out: Worker[] = [];
  while (out.length < n && parked.length) {
    const w = parked.pop()!;
    w.ref();
    out.push(w);
  }
  while (out.length < n) out.push(spawn());
  return out;
}

function park(w: Worker): void {
  if (parked.length >= Math.max(2, availableParallelism())) {
    void w.terminate();
    return;
  }
  // Drop the worker's reference to the last training's data, so it can be freed.
  w.postMessage({ type: 'init', data: undefined });
  w.unref();
  parked.push(w);
}

/**
 * Stop the parked workers (tests and tools that want a clean exit; they are
 * unref'd, so nothing else needs this).
 */
export async function stopParkedWorkers(): Promise<void> {
  await Promise.all(parked.splice(0).map((w) => w.terminate()));
}

export class TreePool {
  private readonly idle: Worker[] = [];
  private readonly queue: Array<{ id: number; task: Task }> = [];
  private readonly pending = new Map<number, Pending>();
  private readonly busy = new Map<Worker, number>();
  // biome-ignore lint/suspicious/noExplicitAny: Worker.on/off take listeners of per-event argument types.
  private readonly listeners = new Map<Worker, Array<[string, (...args: any[]) => void]>>();
  private nextId = 0;
  private failed: Error | undefined;
  private data: SharedData | undefined;

  private constructor(private readonly workers: Worker[]) {
    for (const w of workers) {
      // biome-ignore lint/suspicious/noExplicitAny: as above, one list for listeners of three events.
      const on: Array<[string, (...args: any[]) => void]> = [
        ['message', (msg: { id: number; result?: TaskResult; error?: string }) => this.onMessage(w, msg)],
        ['error', (err: Error) => this.fail(err)],
        [
          'exit',
          (code: number) => {
            if (code !== 0 && this.busy.has(w))
              this.fail(new Error(`a training worker exited with code ${code}`));
          },
        ],
      ];
      for (const [event, fn] of on) w.on(event, fn);
      this.listeners.set(w, on);
      this.idle.push(w);
    }
  }

  /**
   * Take `threads` workers (0: run tasks on this thread), warm ones first.
   *
   * @example
   * const pool = TreePool.open(2);
   * const binned = await pool.bin(x, rows, cols, 255);
   * pool.share({ binned, y, nClasses, classWeight });
   * const trees = await Promise.all(tasks.map((t) => pool.tree(t)));
   * await pool.close();
   */
  static open(threads: number): TreePool {
    return new TreePool(acquire(threads));
  }

  get threads(): number {
    return this.workers.length;
  }

  /** Give every worker the training data (typed arrays on SharedArrayBuffers are shared, not copied). */
  share(data: SharedData): void {
    this.data = data;
    for (const w of this.workers) w.postMessage({ type: 'init', data });
  }

  /**
   * Bin a row-major matrix, features split across the threads.
   *
   * @example
   * const binned = await pool.bin(ds.x, ds.rows, ds.cols, 255);
   */
  async bin(x: Float32Array, rows: number, cols: number, maxBins: number): Promise<BinnedMatrix> {
    if (maxBins < 2 || maxBins > MAX_BINS) throw new RangeError(`maxBins must be in 2…${MAX_BINS}`);
    const bins = new Uint8Array(new SharedArrayBuffer(Math.max(1, rows * cols)));
    let sx = x;
    if (this.workers.length && !(x.buffer instanceof SharedArrayBuffer)) {
      sx = new Float32Array(new SharedArrayBuffer(Math.max(4, x.byteLength)), 0, x.length);
      sx.set(x);
    }
    const parts = Math.max(1, this.workers.length * 2);
    const groups: number[][] = Array.from({ length: parts }, () => []);
    for (let f = 0; f < cols; f++) groups[f % parts]!.push(f);
    const results = await Promise.all(
      groups
        .filter((g) => g.length)
        .map((features) =>
          this.run({ kind: 'bin', x: sx, rows, cols, features, maxBins, bins } satisfies BinTask),
        ),
    );
    const edges: Float32Array[] = new Array(cols);
    groups
      .filter((g) => g.length)
      .forEach((features, k) => {
        const r = results[k]! as { edges: Float32Array[] };
        features.forEach((f, j) => {
          edges[f] = r.edges[j]!;
        });
      });
    const nBins = Uint16Array.from(edges, (e) => e.length + 1);
    return { rows, cols, bins, edges, nBins };
  }

  /** Boosting gradients of every row, rows split across the threads. */
  async gradients(rows: number, groups: number): Promise<void> {
    const parts = Math.max(1, this.workers.length);
    const step = Math.ceil(rows / parts);
    await Promise.all(
      Array.from({ length: parts }, (_, k) =>
        this.run({ kind: 'gradients', start: k * step, end: Math.min(rows, (k + 1) * step), groups }),
      ),
    );
  }

  /** Grow one tree. */
  async tree(task: Extract<Task, { kind: 'forest-tree' | 'boost-tree' }>): Promise<FlatTree> {
    return ((await this.run(task)) as { tree: FlatTree }).tree;
  }

  private run(task: Task): Promise<TaskResult> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.workers.length === 0) {
      try {
        return Promise.resolve(runTask(this.data, task));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const id = this.nextId++;
    return new Promise<TaskResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.queue.push({ id, task });
      this.dispatch();
    });
  }

  /** Give the workers back (parked for the next training), or stop them after a failure. */
  async close(): Promise<void> {
    for (const w of this.workers) {
      for (const [event, fn] of this.listeners.get(w) ?? []) w.off(event, fn);
    }
    if (this.failed || this.busy.size) {
      await Promise.all(this.workers.map((w) => w.terminate()));
      return;
    }
    for (const w of this.workers) park(w);
  }

  private dispatch(): void {
    while (this.idle.length && this.queue.length) {
      const w = this.idle.shift()!;
      const job = this.queue.shift()!;
      this.busy.set(w, job.id);
      w.postMessage({ type: 'task', id: job.id, task: job.task });
    }
  }

  private onMessage(w: Worker, msg: { id: number; result?: TaskResult; error?: string }): void {
    this.busy.delete(w);
    this.idle.push(w);
    const p = this.pending.get(msg.id);
    this.pending.delete(msg.id);
    if (p) {
      if (msg.result) p.resolve(msg.result);
      else p.reject(new AisocError('AISOC_ERR_INTERNAL', `Training failed in a worker: ${msg.error}`));
    }
    this.dispatch();
  }

  private fail(err: Error): void {
    this.failed = new AisocError('AISOC_ERR_INTERNAL', `A training worker failed: ${err.message}`, {
      cause: err,
    });
    for (const p of this.pending.values()) p.reject(this.failed);
    this.pending.clear();
  }
}
