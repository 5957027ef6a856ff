import type { Logger } from 'pino';
import { TRIAGE_TOPIC } from '../correlate/index.ts';
import { describeError } from '../errors.ts';
import { pipelineMetrics } from '../pipeline/metrics.ts';
import type { Store } from '../store/index.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { PlaybookEngine } from './engine.ts';
import type { ActionService } from './service.ts';

export type TriageItem = { type: 'alert' | 'incident'; id: string } | { type: 'run'; id: string };

export interface WorkerOptions {
  store: Store;
  engine: PlaybookEngine;
  actions: ActionService;
  logger: Logger;
  metrics: Metrics;
  /** Items handled at once (LLM calls are slow; keep this small). */
  concurrency?: number;
  /** How often to look for due work when nothing woke the worker. */
  pollMs?: number;
  /** Attempts before an item is dead-lettered. */
  maxAttempts?: number;
}

/**
 * Consumes the durable triage queue that correlation fills: runs the
 * playbooks (the decision flow among them) for every changed alert and
 * incident, resumes runs after approvals, and closes expired approval
 * windows. Work survives restarts because the queue is a table; a failing
 * item is retried with back-off and dead-lettered after `maxAttempts`.
 */
export class TriageWorker {
  private running = false;
  private loop: Promise<void> | undefined;
  private waker: (() => void) | undefined;
  private idleWaiters: Array<() => void> = [];
  private lastExpiry = 0;

  constructor(private readonly opts: WorkerOptions) {}

  async start(): Promise<void> {
    if (this.running) return;
    const { interrupted, resumed } = await this.opts.actions.recoverAtStart();
    if (interrupted)
      this.opts.logger.warn(
        { recovered: interrupted },
        'Actions left running by the last process were marked interrupted.',
      );
    if (resumed.length)
      this.opts.logger.warn(
        { resumed: resumed.length },
        'Actions approved but not started by the last process were run now.',
      );
    for (const r of resumed) if (r.run_id) await this.resumeRun(r.run_id);
    this.running = true;
    this.loop = this.run();
  }

  /** Look for work now (called when correlation queued some). */
  wake(): void {
    this.waker?.();
  }

  /** Queue a run to resume (after an approval or a denial). */
  async resumeRun(runId: string): Promise<void> {
    await this.opts.store.work.enqueue(TRIAGE_TOPIC, `run:${runId}`, { type: 'run', id: runId });
    this.wake();
  }

  /** Resolve once the queue has no due work (tests, demo). */
  async idle(timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if ((await this.opts.store.work.due(TRIAGE_TOPIC, 1)).length === 0 && !this.busy) return;
      this.wake();
      await new Promise<void>((r) => {
        this.idleWaiters.push(r);
        setTimeout(r, 200);
      });
    }
    throw new Error(`The triage queue did not empty within ${timeoutMs} ms`);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
  }

  private busy = false;

  private async run(): Promise<void> {
    const { store, logger } = this.opts;
    const concurrency = this.opts.concurrency ?? 2;
    while (this.running) {
      let items: Awaited<ReturnType<Store['work']['due']>> = [];
      try {
        await this.expireApprovals();
        items = await store.work.due(TRIAGE_TOPIC, concurrency * 4);
      } catch (err) {
        logger.warn(
          { err: describeError(err) },
          'The triage worker could not read its queue; it will retry.',
        );
      }
      if (items.length === 0) {
        this.busy = false;
        for (const w of this.idleWaiters.splice(0)) w();
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, this.opts.pollMs ?? 1000);
          this.waker = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.waker = undefined;
        continue;
      }
      this.busy = true;
      for (let i = 0; i < items.length; i += concurrency) {
        await Promise.all(items.slice(i, i + concurrency).map((it) => this.handle(it)));
        if (!this.running) break;
      }
    }
  }

  private async handle(item: { id: number; key: string; payload: unknown; attempts: number }): Promise<void> {
    const { store, engine, logger } = this.opts;
    // Triage items count as items of the `triage` stage.
    const metrics = pipelineMetrics(this.opts.metrics);
    const started = process.hrtime.bigint();
    const p = item.payload as TriageItem;
    try {
      if (p.type === 'run') await engine.resume(p.id);
      else await engine.process({ type: p.type, id: p.id });
      await store.work.done(item.id);
      metrics.stageItems.inc({ stage: 'triage', outcome: 'ok' });
    } catch (err) {
      const message = describeError(err);
      const max = this.opts.maxAttempts ?? 5;
      if (item.attempts + 1 >= max) {
        await store.deadLetters.insert([
          {
            source: 'pipeline',
            stage: 'triage',
            code: 'AISOC_ERR_INTERNAL',
            reason: message,
            record: JSON.stringify(p),
          },
        ]);
        await store.work.done(item.id);
        metrics.stageItems.inc({ stage: 'triage', outcome: 'dead_letter' });
        logger.error(
          { item: item.key, err: message },
          'A triage item failed repeatedly and was dead-lettered.',
        );
      } else {
        await store.work.retryLater(item.id, 1000 * 2 ** item.attempts, message);
        metrics.stageItems.inc({ stage: 'triage', outcome: 'retried' });
      }
    } finally {
      metrics.stageDuration.observe({ stage: 'triage' }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  private async expireApprovals(): Promise<void> {
    if (Date.now() - this.lastExpiry < 10_000) return;
    this.lastExpiry = Date.now();
    for (const r of await this.opts.actions.expire()) if (r.run_id) await this.resumeRun(r.run_id);
  }
}
