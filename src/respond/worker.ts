import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { TRIAGE_TOPIC } from '../correlate/index.ts';
import { AisocError, describeError } from '../errors.ts';
import { pipelineMetrics } from '../pipeline/metrics.ts';
import type { Store, WorkClaim } from '../store/index.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { PlaybookEngine } from './engine.ts';
import type { ActionService } from './service.ts';

export type TriageItem = { type: 'alert' | 'incident'; id: string } | { type: 'run'; id: string };

/** The default lease on a claimed triage item (`respond.worker_lease_ms`). */
export const DEFAULT_LEASE_MS = 120_000;

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
  /**
   * How long a claim on an item lasts without renewal. The worker renews
   * its claims every third of this while it works on them, so it bounds how
   * long an item waits after its worker died, not how long an analysis may
   * take.
   */
  leaseMs?: number;
  /** The name this worker claims items under (default: host, process id and a random suffix). */
  owner?: string;
  /** How long an item waits when another pass is carrying out its run's current step (default 2 s). */
  deferMs?: number;
}

/** The reason a lost claim's work is stopped with. */
class LeaseLost extends AisocError {
  constructor(key: string) {
    super('AISOC_ERR_CONFLICT', `The claim on ${key} was lost: its lease expired and another worker took it`);
  }
}

/**
 * Consumes the durable triage queue that correlation fills: runs the
 * playbooks (the decision flow among them) for every changed alert and
 * incident, resumes runs after approvals, and closes expired approval
 * windows. Work survives restarts because the queue is a table; a failing
 * item is retried with back-off and dead-lettered after `maxAttempts`.
 *
 * Any number of workers (in one process or many) may share the queue: each
 * claims items under a lease and renews it while it works. A worker that
 * dies leaves its items to be claimed again once their leases expire (an
 * attempt each). A worker that finds its lease lost stops the item's run
 * before its next step and leaves the item to its new holder; running an
 * item twice does nothing twice (see {@link PlaybookEngine}).
 */
export class TriageWorker {
  private running = false;
  private loop: Promise<void> | undefined;
  private waker: (() => void) | undefined;
  /** A wake-up that came while the loop was not waiting. */
  private woken = false;
  private idleWaiters: Array<() => void> = [];
  private lastExpiry = 0;
  private readonly owner: string;
  private readonly leaseMs: number;
  private readonly deferMs: number;
  /** Claims being worked on, by item id, with the controller that stops them when their lease is lost. */
  private readonly inflight = new Map<number, { claim: WorkClaim; lost: AbortController }>();
  /** A claim is on its way: its items are leased, so not due, but not in `inflight` yet. */
  private claiming = false;
  /** Items this worker gave back to wait for another pass (`defer`), until it handles them again. */
  private readonly deferred = new Set<number>();
  private renewing = false;

  constructor(private readonly opts: WorkerOptions) {
    this.owner = opts.owner ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
    this.deferMs = opts.deferMs ?? 2_000;
  }

  async start(): Promise<void> {
    if (this.running) return;
    const { interrupted, interruptedRequests, resumed } = await this.opts.actions.recoverAtStart();
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
    for (const r of [...interruptedRequests, ...resumed]) if (r.run_id) await this.resumeRun(r.run_id);
    this.running = true;
    this.loop = this.run();
  }

  /** Look for work now (called when correlation queued some). */
  wake(): void {
    this.woken = true;
    this.waker?.();
  }

  /** Queue a run to resume (after an approval or a denial). */
  async resumeRun(runId: string): Promise<void> {
    await this.opts.store.work.enqueue(TRIAGE_TOPIC, `run:${runId}`, { type: 'run', id: runId });
    this.wake();
  }

  /**
   * Resolve once the queue has no due work and this worker holds none, nor
   * any it deferred (tests, demo; items another worker holds are not waited for).
   */
  async idle(timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (
        !this.claiming &&
        this.inflight.size === 0 &&
        this.deferred.size === 0 &&
        (await this.opts.store.work.due(TRIAGE_TOPIC, 1)).length === 0
      )
        return;
      this.wake();
      await new Promise<void>((r) => {
        this.idleWaiters.push(r);
        setTimeout(r, 200);
      });
    }
    throw new Error(`The triage queue did not empty within ${timeoutMs} ms`);
  }

  /** Stop claiming; resolves once the items in hand are finished. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { store, logger } = this.opts;
    const concurrency = this.opts.concurrency ?? 2;
    const tasks = new Set<Promise<void>>();
    const heartbeat = setInterval(() => void this.renewLeases(), Math.max(50, Math.floor(this.leaseMs / 3)));
    heartbeat.unref();
    try {
      while (this.running) {
        const free = concurrency - this.inflight.size;
        let claims: WorkClaim[] = [];
        if (free > 0) {
          this.claiming = true;
          try {
            await this.expireApprovals();
            claims = await store.work.claim(TRIAGE_TOPIC, free, {
              owner: this.owner,
              leaseMs: this.leaseMs,
              // An item in hand whose lease lapsed (a stalled event loop) is not taken a second time here.
              exclude: [...this.inflight.keys()],
            });
          } catch (err) {
            logger.warn(
              { err: describeError(err) },
              'The triage worker could not read its queue; it will retry.',
            );
          }
        }
        for (const claim of claims) {
          const lost = new AbortController();
          this.inflight.set(claim.id, { claim, lost });
          this.deferred.delete(claim.id);
          const task = this.handle(claim, lost.signal).finally(() => {
            this.inflight.delete(claim.id);
            tasks.delete(task);
            this.wake();
          });
          tasks.add(task);
        }
        this.claiming = false;
        // A full claim may leave more due work behind: look again at once while there is room.
        if (claims.length > 0 && claims.length === free && this.inflight.size < concurrency) continue;
        if (this.inflight.size === 0) for (const w of this.idleWaiters.splice(0)) w();
        await this.pause();
      }
    } finally {
      await Promise.allSettled([...tasks]);
      clearInterval(heartbeat);
    }
  }

  /** Wait for a wake-up (new work, a finished item) or the poll interval. */
  private async pause(): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, this.opts.pollMs ?? 1000);
      this.waker = () => {
        clearTimeout(t);
        resolve();
      };
    });
    this.waker = undefined;
    this.woken = false;
  }

  /** Extend the leases of the items in hand; stop the work of any claim found lost. */
  private async renewLeases(): Promise<void> {
    const held = [...this.inflight.values()];
    // One renewal at a time: a slow database must not pile them up.
    if (held.length === 0 || this.renewing) return;
    this.renewing = true;
    let renewed: Set<number>;
    try {
      renewed = await this.opts.store.work.renew(
        held.map((h) => h.claim),
        this.leaseMs,
      );
    } catch (err) {
      // The database may be back before the leases run out; the next beat tries again.
      this.opts.logger.warn({ err: describeError(err) }, 'The triage worker could not renew its leases.');
      return;
    } finally {
      this.renewing = false;
    }
    for (const h of held) {
      if (renewed.has(h.claim.id) || h.lost.signal.aborted || !this.inflight.has(h.claim.id)) continue;
      h.lost.abort(new LeaseLost(h.claim.key));
    }
  }

  private async handle(claim: WorkClaim, lost: AbortSignal): Promise<void> {
    const { store, engine } = this.opts;
    // Triage items count as items of the `triage` stage.
    const metrics = pipelineMetrics(this.opts.metrics);
    const started = process.hrtime.bigint();
    const p = claim.payload as TriageItem;
    const max = this.opts.maxAttempts ?? 5;
    try {
      // Attempts that ended with the worker gone (expired leases) count too: an item that kills its worker stops here.
      if (claim.attempts >= max) {
        await this.deadLetter(claim, claim.lastError ?? `${claim.attempts} attempts failed`);
        return;
      }
      let runs: Array<{ status: string }>;
      try {
        if (p.type === 'run') {
          const run = await engine.resume(p.id, { signal: lost });
          runs = run ? [run] : [];
        } else runs = await engine.process({ type: p.type, id: p.id }, { signal: lost });
      } catch (err) {
        if (lost.aborted) return this.lostClaim(claim);
        await this.failed(claim, describeError(err));
        return;
      }
      if (lost.aborted) return this.lostClaim(claim);
      // A run left `running`: another pass over it (another worker, an approval) is carrying out its current
      // step. Come back once that is over, rather than trust a pass that may yet die or lose its lease.
      if (runs.some((r) => r.status === 'running')) {
        const outcome = await store.work.defer(claim, this.deferMs);
        if (outcome === 'lost') return this.lostClaim(claim);
        this.deferred.add(claim.id);
        metrics.stageItems.inc({ stage: 'triage', outcome: 'deferred' });
        return;
      }
      const outcome = await store.work.done(claim);
      if (outcome === 'lost') return this.lostClaim(claim);
      metrics.stageItems.inc({ stage: 'triage', outcome: 'ok' });
    } catch (err) {
      // The queue itself failed (the database is down): the lease runs out and the item is claimed again.
      this.opts.logger.warn(
        { item: claim.key, err: describeError(err) },
        'The triage worker could not record the end of an item; it will be claimed again.',
      );
    } finally {
      metrics.stageDuration.observe({ stage: 'triage' }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  /** An attempt failed: retry later with back-off, or dead-letter after `maxAttempts`. */
  private async failed(claim: WorkClaim, message: string): Promise<void> {
    const max = this.opts.maxAttempts ?? 5;
    if (claim.attempts + 1 >= max) {
      await this.deadLetter(claim, message);
      return;
    }
    const outcome = await this.opts.store.work.retryLater(claim, 1000 * 2 ** claim.attempts, message);
    if (outcome === 'lost') return this.lostClaim(claim);
    pipelineMetrics(this.opts.metrics).stageItems.inc({ stage: 'triage', outcome: 'retried' });
  }

  private async deadLetter(claim: WorkClaim, reason: string): Promise<void> {
    const { store, logger } = this.opts;
    await store.deadLetters.insert([
      {
        source: 'pipeline',
        stage: 'triage',
        code: 'AISOC_ERR_INTERNAL',
        reason,
        record: JSON.stringify(claim.payload),
      },
    ]);
    // A newer version queued meanwhile stays: it has not failed yet.
    await store.work.done(claim);
    pipelineMetrics(this.opts.metrics).stageItems.inc({ stage: 'triage', outcome: 'dead_letter' });
    logger.error({ item: claim.key, err: reason }, 'A triage item failed repeatedly and was dead-lettered.');
  }

  private lostClaim(claim: WorkClaim): void {
    pipelineMetrics(this.opts.metrics).stageItems.inc({ stage: 'triage', outcome: 'lease_lost' });
    this.opts.logger.warn(
      { item: claim.key, lease_ms: this.leaseMs },
      'A triage item was taken over by another worker after this one lost its lease; this worker left it.',
    );
  }

  /**
   * Every ten seconds: close approval windows that passed, and mark
   * interrupted the actions whose runner is gone (another worker that died
   * mid-action); either way their playbook runs move on.
   */
  private async expireApprovals(): Promise<void> {
    if (Date.now() - this.lastExpiry < 10_000) return;
    this.lastExpiry = Date.now();
    const ended = [...(await this.opts.actions.expire()), ...(await this.opts.actions.interruptAbandoned())];
    for (const r of ended) if (r.run_id) await this.resumeRun(r.run_id);
  }
}
