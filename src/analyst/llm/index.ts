import { parseSection } from '../../config/sections.ts';
import { AisocError } from '../../errors.ts';
import type { AnalystConfig } from '../config.ts';
import { withPseudonymisation } from '../guards/pseudonymise.ts';
import { bedrockBackend } from './bedrock/index.ts';
import { ollamaBackend } from './ollama/index.ts';
import { openaiBackend } from './openai/index.ts';
import type { LlmBackend, LlmBackendFactory, LlmContext } from './types.ts';

export type * from './types.ts';

/** Every LLM backend, by type: one line per backend. */
export const LLM_BACKENDS = {
  ollama: ollamaBackend,
  openai: openaiBackend,
  bedrock: bedrockBackend,
} as const satisfies Record<string, LlmBackendFactory<unknown>>;

export type LlmBackendType = keyof typeof LLM_BACKENDS;

function instantiate<C>(factory: LlmBackendFactory<C>, section: unknown, ctx: LlmContext): LlmBackend {
  return factory.create(parseSection(factory.configSchema, section, `analyst.${factory.type}`), ctx);
}

/**
 * The LLM backend the analyst config selects, wrapped with the shared
 * wrapper and, when `pseudonymise` says so (`auto`: the endpoint is not on
 * loopback or a private network), with pseudonymisation. Returns `null` for
 * `backend: builtin` (the built-in analyst uses no model). Throws
 * `AISOC_ERR_CONFIG` for bad settings or a named env var that is unset.
 * `backends` is the registry to choose from (tests and embedders extend it).
 *
 * @example
 * const llm = createLlmBackend(config.analyst, { logger, metrics });
 * if (llm) {
 *   const { json } = await llm.complete({ system, messages: [{ role: 'user', content }], schema, schemaName: 'verdict' });
 * }
 */
export function createLlmBackend(
  config: AnalystConfig,
  ctx: LlmContext,
  backends: Readonly<Record<string, LlmBackendFactory<unknown>>> = LLM_BACKENDS,
): LlmBackend | null {
  if (config.backend === 'builtin') return null;
  const factory = Object.hasOwn(backends, config.backend) ? backends[config.backend] : undefined;
  if (!factory) {
    throw new AisocError(
      'AISOC_ERR_CONFIG',
      `analyst.backend: no LLM backend of type ${config.backend} exists`,
      {
        field: 'analyst.backend',
      },
    );
  }
  // Sections are keyed by type: one of a backend added to an extended registry is not in AnalystConfig's type.
  const backend = instantiate(factory, (config as Record<string, unknown>)[config.backend], ctx);
  const pseudonymise = config.pseudonymise === 'always' || (config.pseudonymise === 'auto' && !backend.local);
  return pseudonymise ? withPseudonymisation(backend) : backend;
}
