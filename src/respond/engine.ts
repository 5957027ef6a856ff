import type { Logger } from 'pino';
import { AisocError, describeError } from '../errors.ts';
import { uuidv7 } from '../ids.ts';
import type { PlaybookRun, StepState } from '../schema/response.ts';
import type { Store } from '../store/index.ts';
import { policyView, type RunContext } from './context.ts';
import { evaluate } from './playbooks/conditions.ts';
import { CORE_STEPS, type CoreStep, type Playbook, type Step } from './playbooks/model.ts';
import { render } from './playbooks/template.ts';
import type { ActionService } from './service.ts';

/** Which run and step a core step runs for: a natural key for what the step creates. */
export interface StepAt {
  run_id: string;
  step_id: string;
}

/** Built-in steps, provided by the analyst and the case service. */
export interface CoreHandlers {
  'core.score'(ctx: RunContext, at: StepAt): Promise<Record<string, unknown>>;
  'core.analyse'(ctx: RunContext, at: StepAt): Promise<Record<string, unknown>>;
  'case.create'(ctx: RunContext, at: StepAt): Promise<Record<string, unknown>>;
}

/** Loads the context of a subject (alert or incident) fresh from the store. */
export type ContextLoader = (
  subject: { type: 'alert' | 'incident'; id: string },
  playbook: Playbook,
) => Promise<RunContext | undefined>;

export interface EngineOptions {
  store: Store;
  actions: ActionService;
  core: CoreHandlers;
  loadContext: ContextLoader;
  playbooks: Playbook[];
  logger: Logger;
  /** Default dry-run for actions; a step may override it. */
  dryRun: boolean;
}

export interface RunOptions {
  /**
   * Aborted when the caller may no longer act on this work (the triage
   * worker lost its lease): the run stops before its next step, and the
   * call rejects with the signal's reason.
   */
  signal?: AbortSignal;
}

/**
 * The playbook's policy that lets `step`'s action run without a person in
 * this context, if one does: it names the action and its condition holds
 * on the facts of the detection (policies never see a verdict).
 */
export function policyFor(pb: Pick<Playbook, 'policies'>, step: Pick<Step, 'uses'>, ctx: RunContext) {
  return pb.policies.find((p) => p.action === step.uses && evaluate(p.when, policyView(ctx)));
}

/** A step whose action another execution of the same run is carrying out right now. */
const IN_PROGRESS = Symbol('in progress elsewhere');

/** An ISO time after `previous`, even within one millisecond: each checkpoint of a run has its own. */
function laterThan(previous: string): string {
  return new Date(Math.max(Date.now(), Date.parse(previous) + 1)).toISOString();
}

/**
 * Runs playbooks. Each run is checkpointed after every step, so a restart
 * resumes at the step it was on. Running the same subject twice, one after
 * the other or at once in two workers, does nothing twice: a run is one per
 * playbook and subject; each checkpoint is a compare-and-set, so of two
 * executions of one run only the first to finish a step moves it on and the
 * other stops; an action step makes one request per run and step (a second
 * pass finds the first request, and an action another execution is running
 * is left to it); `case.create` opens one case per run and step. Every step
 * is audited.
 */
export class PlaybookEngine {
  constructor(private readonly opts: EngineOptions) {}

  get playbooks(): Playbook[] {
    return this.opts.playbooks;
  }

  /** Run (or resume) every enabled playbook whose trigger matches the subject. */
  async process(
    subject: { type: 'alert' | 'incident'; id: string },
    opts: RunOptions = {},
  ): Promise<PlaybookRun[]> {
    const runs: PlaybookRun[] = [];
    for (const pb of this.opts.playbooks) {
      opts.signal?.throwIfAborted();
      if (!pb.enabled || pb.trigger.on !== subject.type) continue;
      const ctx = await this.opts.loadContext(subject, pb);
      if (!ctx) continue;
      const existing = (await this.opts.store.runs.forSubject(subject.type, subject.id)).find(
        (r) => r.playbook === pb.id,
      );
      if (!existing && !evaluate(pb.trigger.when, ctx)) continue;
      runs.push(await this.run(pb, ctx, existing, opts.signal));
    }
    return runs;
  }

  /** Resume a run (after an approval or a denial). */
  async resume(runId: string, opts: RunOptions = {}): Promise<PlaybookRun | undefined> {
    const run = await this.opts.store.runs.get(runId);
    if (!run) return undefined;
    const pb = this.opts.playbooks.find((p) => p.id === run.playbook);
    if (!pb) return run;
    const ctx = await this.opts.loadContext({ type: run.subject_type, id: run.subject_id }, pb);
    if (!ctx) return run;
    return this.run(pb, ctx, run, opts.signal);
  }

  private async run(
    pb: Playbook,
    ctx: RunContext,
    existing: PlaybookRun | undefined,
    signal: AbortSignal | undefined,
  ): Promise<PlaybookRun> {
    const { store } = this.opts;
    const now = new Date().toISOString();
    let run: PlaybookRun =
      existing ??
      (
        await store.runs.getOrCreate({
          id: uuidv7(),
          playbook: pb.id,
          subject_type: ctx.subject.type,
          subject_id: ctx.subject.id,
          status: 'running',
          next_step: 0,
          steps: {},
          created_at: now,
          updated_at: now,
        })
      ).run;
    if (run.status === 'completed' || run.status === 'failed') return run;
    // Outputs of earlier steps, for conditions and templates.
    for (const [id, st] of Object.entries(run.steps)) ctx.steps[id] = st.output ?? { status: st.status };

    // The checkpoint this execution goes on from; a save succeeds only while it is still the stored one.
    let from = run.updated_at;
    const checkpoint = async (next: PlaybookRun): Promise<boolean> => {
      next.updated_at = laterThan(from);
      if (!(await store.runs.save(next, from))) return false;
      from = next.updated_at;
      return true;
    };
    // Another execution of this run saved first: it carries the run on; report where it stands.
    const overtaken = async () => {
      this.opts.logger.debug(
        { playbook: pb.id, run: run.id },
        'Another worker moved this playbook run on first; this pass stops.',
      );
      return (await store.runs.get(run.id)) ?? run;
    };

    for (let i = run.next_step; i < pb.steps.length; i++) {
      signal?.throwIfAborted();
      const step = pb.steps[i]!;
      const state = await this.runStep(pb, step, ctx, run);
      // The step's action is running in another execution, which moves the run on when it ends.
      if (state === IN_PROGRESS) return run;
      run = { ...run, steps: { ...run.steps, [step.id]: state } };
      ctx.steps[step.id] = state.output ?? { status: state.status };
      if (state.status === 'waiting') {
        run.status = 'waiting';
        return (await checkpoint(run)) ? run : overtaken();
      }
      run.next_step = i + 1;
      if (state.status === 'failed' && step.on_error === 'stop') {
        run.status = 'failed';
        return (await checkpoint(run)) ? run : overtaken();
      }
      if (step.uses === 'core.stop' && state.status === 'done') break;
      run.status = 'running';
      if (!(await checkpoint(run))) return overtaken();
    }
    run = { ...run, status: 'completed', next_step: pb.steps.length };
    return (await checkpoint(run)) ? run : overtaken();
  }

  private async runStep(
    pb: Playbook,
    step: Step,
    ctx: RunContext,
    run: PlaybookRun,
  ): Promise<StepState | typeof IN_PROGRESS> {
    const at = () => new Date().toISOString();
    const audit = (status: string, details: Record<string, unknown>) =>
      this.opts.store.audit.append({
        actor: `playbook:${pb.id}`,
        action: 'playbook.step',
        target_type: ctx.subject.type,
        target_id: ctx.subject.id,
        reason: `${step.id} (${step.uses}): ${status}`,
        details: { run_id: run.id, step: step.id, uses: step.uses, status, ...details },
      });
    const previous = run.steps[step.id];
    // A step waiting on an approval: look at the request again.
    if (previous?.status === 'waiting' && previous.request_id) {
      const req = await this.opts.store.actions.get(previous.request_id);
      if (!req || req.status === 'pending_approval') return previous;
      if (inProgress(req.status)) return IN_PROGRESS;
      return this.fromRequest(req, step, audit);
    }
    if (!evaluate(step.if, ctx)) {
      await audit('skipped', { reason: 'condition does not hold' });
      return { status: 'skipped', at: at() };
    }
    try {
      if (step.uses in CORE_STEPS) {
        if (step.uses === 'core.stop') {
          await audit('done', {});
          return { status: 'done', output: { stopped: true }, at: at() };
        }
        const output = await this.withTimeout(
          this.opts.core[step.uses as Exclude<CoreStep, 'core.stop'>](ctx, {
            run_id: run.id,
            step_id: step.id,
          }),
          step.timeout_ms,
          step.id,
        );
        await audit('done', { output: summarise(output) });
        return { status: 'done', output, at: at() };
      }
      if (!this.opts.actions.types().includes(step.uses)) {
        await audit('skipped', { reason: `action ${step.uses} is not configured` });
        return { status: 'skipped', output: { status: 'not_configured' }, at: at() };
      }
      const input = render(step.with, ctx) as Record<string, unknown>;
      const policy = policyFor(pb, step, ctx);
      const req = await this.opts.actions.request({
        type: step.uses,
        input,
        requested_by: `playbook:${pb.id}`,
        reason: `${pb.name}: step ${step.id} on ${ctx.subject.type} ${ctx.subject.id}`,
        approval: step.approval,
        ...(policy ? { policy: policy.reason } : {}),
        // Dry-run protects the environment: read-only actions (notifications) always run for real.
        dry_run:
          step.dry_run ??
          (this.opts.actions.effectOf(step.uses) === 'read-only' ? false : ctx.config.dry_run),
        expires_in_ms: step.approval_timeout_ms,
        ...(ctx.alert ? { alert_id: ctx.alert.id } : {}),
        ...(ctx.incident ? { incident_id: ctx.incident.id } : {}),
        run_id: run.id,
        step_id: step.id,
        timeout_ms: step.timeout_ms,
        // A step that asks for a live run under the dry-run ceiling waits for a person instead of failing.
        live_without_approval: 'hold',
      });
      if (step.approval === 'required' && !req.needs_approval) {
        // The action service keys approval-needing requests apart, so this cannot happen; refuse rather than trust it.
        throw new AisocError(
          'AISOC_ERR_CONFLICT',
          `step ${step.id} needs approval but request ${req.id} was made without one`,
          { field: 'approval' },
        );
      }
      if (inProgress(req.status)) return IN_PROGRESS;
      if (req.status === 'pending_approval') {
        await audit('waiting', { request_id: req.id, reason: 'waiting for approval' });
        return {
          status: 'waiting',
          request_id: req.id,
          output: { request_id: req.id, status: req.status },
          at: at(),
        };
      }
      return this.fromRequest(req, step, audit);
    } catch (err) {
      const message = describeError(err);
      this.opts.logger.warn({ playbook: pb.id, step: step.id, err: message }, 'A playbook step failed.');
      await audit('failed', { error: message });
      return { status: 'failed', error: message, at: at() };
    }
  }

  private async fromRequest(
    req: NonNullable<Awaited<ReturnType<Store['actions']['get']>>>,
    step: Step,
    audit: (status: string, details: Record<string, unknown>) => Promise<unknown>,
  ): Promise<StepState> {
    const output = {
      request_id: req.id,
      status: req.status,
      summary: req.result?.summary,
      dry_run: req.dry_run,
    };
    const at = new Date().toISOString();
    let status: StepState['status'];
    switch (req.status) {
      case 'succeeded':
      case 'dry_run':
      case 'skipped':
      case 'rolled_back':
        status = 'done';
        break;
      case 'denied':
        status = 'denied';
        break;
      case 'expired':
        status = 'expired';
        break;
      case 'pending_approval':
        status = 'waiting';
        break;
      default:
        status = 'failed';
    }
    await audit(status, {
      request_id: req.id,
      action_status: req.status,
      ...(req.error ? { error: req.error } : {}),
    });
    const state: StepState = { status, output, request_id: req.id, at };
    if (status === 'failed') state.error = req.error ?? `action ${step.uses} ended ${req.status}`;
    return state;
  }

  private async withTimeout<T>(p: Promise<T>, ms: number, id: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        p,
        new Promise<T>((_, reject) => {
          timer = setTimeout(
            () => reject(new AisocError('AISOC_ERR_INTERNAL', `step ${id} timed out after ${ms} ms`)),
            ms,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * An action request approved but not yet started, or running: some execution
 * (another worker's pass over the same run, an approval, start-up recovery)
 * is carrying it out and resumes the run when it ends.
 */
function inProgress(status: string): boolean {
  return status === 'approved' || status === 'running';
}

function summarise(output: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(output)) {
    if (typeof v !== 'object' || v === null) out[k] = v;
  }
  return out;
}
