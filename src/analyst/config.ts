import { z } from 'zod';
import { keysOf, sectionsOf } from '../config/sections.ts';
import { LLM_BACKENDS } from './llm/index.ts';

/**
 * `analyst`: who writes verdicts, the asset context, and one section per
 * LLM backend, named by its type: the backends and their sections come from
 * the registry (`LLM_BACKENDS` in `llm/index.ts`), so a new backend brings
 * its settings with its registry line.
 */
export const AnalystConfig = z
  .strictObject({
    backend: z
      .enum(['builtin', ...keysOf(LLM_BACKENDS)])
      .default('builtin')
      .describe('Who writes verdicts: the built-in analyst (no LLM), or an LLM backend configured below'),
    pseudonymise: z
      .enum(['auto', 'always', 'never'])
      .default('auto')
      .describe(
        'Replace IPs, user and host names, emails and AWS account/key ids with tokens before a prompt leaves: auto = when the backend is not on loopback or a private network',
      ),
    ...sectionsOf(LLM_BACKENDS),
    assets: z
      .strictObject({
        critical_hosts: z
          .array(z.string())
          .default([])
          .describe('Host names, instance ids or IPs whose compromise matters most'),
        privileged_users: z
          .array(z.string())
          .default([])
          .describe('Users with administrative power (root, break-glass, domain admins)'),
        crown_jewel_accounts: z
          .array(z.string())
          .default([])
          .describe('Cloud account ids or identities holding the crown jewels'),
      })
      .default({ critical_hosts: [], privileged_users: [], crown_jewel_accounts: [] })
      .describe('Asset and identity context for priority and verdicts'),
    cache_ttl_ms: z
      .number()
      .int()
      .min(0)
      .default(3_600_000)
      .describe(
        'Reuse a stored verdict younger than this for the same input: a sha256 of the whole canonicalised input, the backend and model, and the knowledge version (0 disables)',
      ),
  })
  .describe('Analyst: the LLM backend and its settings (see docs/llm.md)');
export type AnalystConfig = z.infer<typeof AnalystConfig>;
