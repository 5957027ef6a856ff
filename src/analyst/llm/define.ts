import type { z } from 'zod';
import type { CommonLlmSettings } from './config.ts';
import type { LlmBackendFactory, LlmContext, LlmCore } from './types.ts';
import { wrapLlmCore } from './wrapper.ts';

/**
 * Build a backend factory from its protocol core. The factory's `create`
 * always wraps the core with the shared wrapper (`wrapper.ts`), so no
 * backend can ship without timeouts, retries, metrics, redaction and
 * output validation.
 *
 * @example
 * export const ollamaBackend = defineLlmBackend({
 *   type: 'ollama',
 *   description: 'Ollama /api/chat',
 *   configSchema: OllamaConfig,
 *   createCore: (config, ctx) => ollamaCore(config, ctx),
 * });
 */
export function defineLlmBackend<C extends CommonLlmSettings>(spec: {
  type: string;
  description: string;
  configSchema: z.ZodType<C>;
  createCore(config: C, ctx: LlmContext): LlmCore;
}): LlmBackendFactory<C> {
  return {
    type: spec.type,
    description: spec.description,
    configSchema: spec.configSchema,
    create: (config, ctx) => wrapLlmCore(spec.createCore(config, ctx), config, ctx),
  };
}
