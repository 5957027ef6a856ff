import { z } from 'zod';
import { Condition } from './conditions.ts';

/** Steps the engine provides itself; everything else in `uses` is an action type. */
export const CORE_STEPS = {
  'core.score': 'Compute the priority (0–100) from detections, ML, assets, tactics and correlation',
  'core.analyse':
    'Run the analyst (LLM with retrieved ATT&CK context, or the built-in analyst) and store the verdict',
  'core.stop': 'End the run here',
  'case.create': 'Open (or update) the case of the incident, with its observables',
} as const;
export type CoreStep = keyof typeof CORE_STEPS;

export const Step = z
  .strictObject({
    id: z
      .string()
      .regex(/^[a-z][a-z0-9_-]*$/, 'must be lower-case letters, digits, - or _')
      .describe('Step id, unique in the playbook'),
    name: z.string().optional(),
    uses: z
      .string()
      .min(1)
      .describe(
        'A core step (core.score, core.analyse, case.create, core.stop) or an action type (aws.iam.disable_access_key, notify.slack, …)',
      ),
    if: Condition.optional().describe('Run the step only when this holds'),
    with: z
      .record(z.string(), z.unknown())
      .default({})
      .describe('Inputs; strings may hold {{ path | filter }} placeholders'),
    approval: z
      .enum(['auto', 'required'])
      .default('auto')
      .describe(
        'auto: destructive actions wait for approval unless a policy allows them; required: always wait for a person',
      ),
    approval_timeout_ms: z
      .number()
      .int()
      .min(1000)
      .default(24 * 3_600_000)
      .describe('How long an approval request stays open before it expires'),
    timeout_ms: z.number().int().min(100).default(60_000).describe('Time allowed for the step'),
    dry_run: z
      .boolean()
      .optional()
      .describe('Force dry-run (true) or a real run (false) for this step, overriding respond.dry_run'),
    on_error: z
      .enum(['continue', 'stop'])
      .default('continue')
      .describe('What the run does when the step fails'),
  })
  .describe('One playbook step');
export type Step = z.infer<typeof Step>;

export const Policy = z
  .strictObject({
    action: z.string().describe('Action type the policy allows without approval'),
    when: Condition.describe('Facts that must hold; verdicts from an LLM are never visible to policies'),
    reason: z.string().min(1).describe('Why this is safe to run without a person'),
  })
  .describe('Allows a destructive action to run without approval under a detection-backed condition');
export type Policy = z.infer<typeof Policy>;

export const Playbook = z
  .strictObject({
    id: z.string().regex(/^[a-z][a-z0-9_-]*$/, 'must be lower-case letters, digits, - or _'),
    name: z.string(),
    description: z.string().optional(),
    enabled: z.boolean().default(true),
    order: z.number().int().default(100).describe('Playbooks run in ascending order'),
    trigger: z.strictObject({
      on: z.enum(['alert', 'incident']).describe('What the playbook runs on'),
      when: Condition.optional().describe('Only subjects matching this condition'),
    }),
    steps: z.array(Step).min(1),
    policies: z.array(Policy).default([]),
  })
  .describe('A playbook: a trigger and steps');
export type Playbook = z.infer<typeof Playbook>;
