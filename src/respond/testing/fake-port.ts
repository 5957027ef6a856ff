import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { ActionEffect, ActionOutcome, ActionPort } from '../port.ts';

/**
 * A tiny in-memory action catalogue for engine tests: it records every call
 * so tests can assert what ran, how often, and in which mode. (The real
 * catalogue in src/respond/actions/ has its own tests against AWS mocks and
 * local receivers.)
 */
export class RecordingPort implements ActionPort {
  readonly calls: Array<{
    kind: 'execute' | 'preview' | 'rollback';
    type: string;
    input: unknown;
    dryRun: boolean;
  }> = [];
  /** Types that fail when executed. */
  readonly failing = new Set<string>();
  private readonly catalogue = new Map<
    string,
    { effect: ActionEffect; inputSchema: z.ZodType; description: string }
  >([
    [
      'test.notify',
      {
        effect: 'read-only',
        description: 'notify',
        inputSchema: z.object({ message: z.string().min(1), channel: z.string().default('soc') }),
      },
    ],
    [
      'test.disable_key',
      {
        effect: 'reversible',
        description: 'disable a key',
        inputSchema: z.object({ access_key_id: z.string().regex(/^AKIA[A-Z0-9]{16}$/) }),
      },
    ],
    [
      'test.delete_user',
      {
        effect: 'destructive',
        description: 'delete a user',
        inputSchema: z.object({ user: z.string().min(1), retries: z.number().int().optional() }),
      },
    ],
  ]);

  types(): string[] {
    return [...this.catalogue.keys()];
  }
  info(type: string) {
    const c = this.catalogue.get(type);
    return c ? { type, ...c } : undefined;
  }
  idempotencyKey(type: string, input: unknown): string {
    return createHash('sha256')
      .update(`${type}:${JSON.stringify(input)}`)
      .digest('hex')
      .slice(0, 24);
  }
  async execute(
    type: string,
    input: unknown,
    opts: { dryRun: boolean; preview?: boolean },
  ): Promise<ActionOutcome> {
    this.calls.push({ kind: opts.preview ? 'preview' : 'execute', type, input, dryRun: opts.dryRun });
    if (this.failing.has(type)) throw new Error(`${type} failed on purpose`);
    return {
      status: opts.dryRun ? 'dry_run' : 'succeeded',
      summary: `${type} ${opts.dryRun ? 'would run' : 'ran'}`,
      details: { input },
      rollback_data: { before: 'Active' },
    };
  }
  async rollback(
    type: string,
    input: unknown,
    rollbackData: unknown,
    opts: { dryRun: boolean },
  ): Promise<ActionOutcome> {
    this.calls.push({ kind: 'rollback', type, input, dryRun: opts.dryRun });
    return {
      status: opts.dryRun ? 'dry_run' : 'succeeded',
      summary: `restored ${JSON.stringify(rollbackData)}`,
      details: {},
    };
  }
  /** Runs of the action (dry or live), not the previews made for approvers. */
  executions(type?: string) {
    return this.calls.filter((c) => c.kind === 'execute' && (!type || c.type === type));
  }
  /** Dry runs made to show an approver what a waiting request will do. */
  previews(type?: string) {
    return this.calls.filter((c) => c.kind === 'preview' && (!type || c.type === type));
  }
}
