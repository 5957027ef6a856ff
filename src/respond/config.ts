import { z } from 'zod';
import { section } from '../config/sections.ts';
import { ActionsConfig } from './actions/index.ts';

/** `respond.approvals`: how many people approve an action request. */
export const ApprovalsConfig = z
  .strictObject({
    min_approvers: z
      .number()
      .int()
      .min(1)
      .max(5)
      .default(1)
      .describe(
        'People who must approve a request that waits for approval, none of them its requester (four eyes: distinct API key names)',
      ),
  })
  .describe('Approvals of action requests');

/** `respond.suppressions`: limits of the suppressions a false-positive case creates. */
export const SuppressionsConfig = z
  .strictObject({
    max_days: z
      .number()
      .int()
      .min(1)
      .max(365)
      .default(30)
      .describe(
        "Longest suppression a case closed as false positive may create, in days; longer ones, or ones beyond the case's own rules and entities, need an admin key (up to 365)",
      ),
  })
  .describe('Suppressions created when a case closes as a false positive');

/** `respond`: playbooks, the enabled actions and their approvals. */
export const RespondConfig = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe('Run the playbooks (the decision flow among them) on every alert and incident'),
    dry_run: z
      .boolean()
      .default(true)
      .describe(
        'A ceiling: while true, actions that change something run as dry runs, and run live only when a person other than the requester approved the request or a playbook policy names the action (no caller lifts it)',
      ),
    threshold: z
      .number()
      .min(0)
      .max(100)
      .default(80)
      .describe('Priority at or above which the decision flow runs the analyst (the seed threshold)'),
    builtin_playbooks: z.boolean().default(true).describe('Load the playbooks shipped in content/playbooks'),
    playbook_dirs: z.array(z.string()).default([]).describe('More directories of playbooks (YAML)'),
    worker_concurrency: z
      .number()
      .int()
      .min(1)
      .max(32)
      .default(2)
      .describe('Alerts triaged at once (LLM calls are slow)'),
    worker_lease_ms: z
      .number()
      .int()
      .min(1_000)
      .max(3_600_000)
      .default(120_000)
      .describe(
        'How long a triage worker holds an item it claimed without renewing the claim. A worker renews its claims every third of this while it works (an analysis may take longer), so this is how long an item waits after its worker died before another claims it; an expired claim counts as a failed attempt',
      ),
    actions: ActionsConfig.default({}),
    approvals: section(ApprovalsConfig),
    suppressions: section(SuppressionsConfig),
  })
  .describe('Response: playbooks, actions and approvals');
export type RespondConfig = z.infer<typeof RespondConfig>;
