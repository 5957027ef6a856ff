import { z } from 'zod';
import { section } from '../config/sections.ts';
import { BedrockConfig } from './llm/bedrock/config.ts';
import { OllamaConfig } from './llm/ollama/config.ts';
import { OpenAiConfig } from './llm/openai/config.ts';

/** `analyst`: who writes verdicts, each LLM backend's section, and the asset context. */
export const AnalystConfig = z
  .strictObject({
    backend: z
      .enum(['builtin', 'ollama', 'openai', 'bedrock'])
      .default('builtin')
      .describe('Who writes verdicts: the built-in analyst (no LLM), or an LLM backend configured below'),
    pseudonymise: z
      .enum(['auto', 'always', 'never'])
      .default('auto')
      .describe(
        'Replace IPs, user and host names, emails and AWS account/key ids with tokens before a prompt leaves: auto = when the backend is not on loopback or a private network',
      ),
    ollama: section(OllamaConfig),
    openai: section(OpenAiConfig),
    bedrock: section(BedrockConfig),
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
