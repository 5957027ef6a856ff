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

/** Built-in steps, provided by the analyst and the case service. */
export interface CoreHandlers {
  'core.score'(ctx: RunContext): Promise<Record<string, unknown>>;
  'core.analyse'(ctx: RunContext): Promise<Record<string, unknown>>;
  'case.create'(ctx: RunContext): Promise<Record<string, unknown>>;
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

/**
 * Runs playbooks. Each run is checkpointed after every step, so a restart
 * resumes at the step it was on; action steps are idempotent through the
 * action service, so resuming never runs an action twice. Every step is
 * audited.
 */
export class PlaybookEngine {
  constructor(private readonly opts: EngineOptions) {}

  get playbooks(): Playbook[] {
    return this.opts.playbooks;
  }

  /** Run (or resume) every enabled playbook whose trigger matches the subject. */
  async process(subject: { type: 'alert' | 'incident'; id: string }): Promise<PlaybookRun[]> {
    const runs: PlaybookRun[] = [];
    for (const pb of this.opts.playbooks) {
      if (!pb.enabled || pb.trigger.on !== subject.type) continue;
      const ctx = await this.opts.loadContext(subject, pb);
      if (!ctx) continue;
      const existing = (await this.opts.store.runs.forSubject(subject.type, subject.id)).find(
        (r) => r.playbook === pb.id,
      );
      if (!existing && !evaluate(pb.trigger.when, ctx)) continue;
      runs.push(await this.run(pb, ctx, existing));
    }
    return runs;
  }

  /** Resume a run (after an approval or a denial). */
  async resume(runId: string): Promise<PlaybookRun | undefined> {
    const run = await this.opts.store.runs.get(runId);
    if (!run) return undefined;
    const pb = this.opts.playbooks.find((p) => p.id === run.playbook);
    if (!pb) return run;
    const ctx = await this.opts.loadContext({ type: run.subject_type, id: run.subject_id }, pb);
    if (!ctx) return run;
    return this.run(pb, ctx, run);
  }

  private async run(pb: Playbook, ctx: RunContext, existing?: PlaybookRun): Promise<PlaybookRun> {
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

    for (let i = run.next_step; i < pb.steps.length; i++) {
      const step = pb.steps[i]!;
      const state = await this.runStep(pb, step, ctx, run);
      run = { ...run, steps: { ...run.steps, [step.id]: state }, updated_at: new Date().toISOString() };
      ctx.steps[step.id] = state.output ?? { status: state.status };
      if (state.status === 'waiting') {
        run.status = 'waiting';
        await store.runs.save(run);
        return run;
      }
      run.next_step = i + 1;
      if (state.status === 'failed' && step.on_error === 'stop') {
        run.status = 'failed';
        await store.runs.save(run);
        return run;
      }
      if (step.uses === 'core.stop' && state.status === 'done') break;
      run.status = 'running';
      await store.runs.save(run);
    }
    run.status = 'completed';
    run.next_step = pb.steps.length;
    run.updated_at = new Date().toISOString();
    await store.runs.save(run);
    return run;
  }

  private async runStep(pb: Playbook, step: Step, ctx: RunContext, run: PlaybookRun): Promise<StepState> {
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
          this.opts.core[step.uses as Exclude<CoreStep, 'core.stop'>](ctx),
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
      const policy = pb.policies.find((p) => p.action === step.uses && evaluate(p.when, policyView(ctx)));
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

function summarise(output: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(output)) {
    if (typeof v !== 'object' || v === null) out[k] = v;
  }
  return out;
}
