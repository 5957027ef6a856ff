import { z } from 'zod';
import { AisocError } from '../errors.ts';

/**
 * A config section that may be left out: absent, it takes the defaults of
 * every field (the schema must accept `{}`). Sections are nested with it so
 * that an empty config file is a working one.
 *
 * @example
 * const PipelineSection = z.strictObject({ retention: section(RetentionConfig) });
 * PipelineSection.parse({}).retention.events_days; // 30
 */
export function section<S extends z.ZodType>(schema: S): z.ZodDefault<S> {
  // `parse` returns the schema's output; `default` wants that output without undefined, which a parse of {} is.
  return schema.default(schema.parse({}) as z.util.NoUndefined<z.output<S>>);
}

/** A component factory as registries hold them: a type name and the schema of its config section. */
export interface Configurable {
  readonly configSchema: z.ZodType;
}

/** The shape {@link sectionsOf} builds: one defaulted section per registry key. */
export type SectionsOf<R extends Record<string, Configurable>> = {
  [K in keyof R]: z.ZodDefault<R[K]['configSchema']>;
};

/**
 * One config section per registered component, keyed as the registry keys
 * them, each with its own defaults: a registry keyed by type becomes the
 * shape of the section that configures its components, so adding a
 * component to the registry adds its settings to the configuration.
 *
 * @example
 * const LlmSections = sectionsOf({ ollama: ollamaBackend, openai: openaiBackend });
 * z.strictObject({ backend: z.enum(['ollama', 'openai']), ...LlmSections });
 */
export function sectionsOf<R extends Record<string, Configurable>>(registry: R): SectionsOf<R> {
  return Object.fromEntries(
    Object.entries(registry).map(([key, factory]) => [key, section(factory.configSchema)]),
  ) as SectionsOf<R>;
}

/** The shape {@link declaredSectionsOf} builds: a defaulted section per entry that declares a schema. */
export type DeclaredSectionsOf<R> = {
  [K in keyof R as R[K] extends Configurable ? K : never]: R[K] extends Configurable
    ? z.ZodDefault<R[K]['configSchema']>
    : never;
};

/**
 * Like {@link sectionsOf}, for registries where only some components have
 * settings of their own: one defaulted section per entry that declares a
 * `configSchema`, keyed as the registry keys it; entries without one (they
 * read settings that predate their registry, such as `detect.upstream_min_severity`)
 * add nothing.
 *
 * @example
 * const Detect = z.strictObject({ ...declaredSectionsOf({ upstream: { create }, sigma: { configSchema: SigmaConfig, create } }) });
 * // Detect has one field, sigma
 */
export function declaredSectionsOf<R extends Record<string, object>>(registry: R): DeclaredSectionsOf<R> {
  return Object.fromEntries(
    Object.entries(registry).flatMap(([key, entry]) =>
      'configSchema' in entry && entry.configSchema
        ? [[key, section((entry as Configurable).configSchema)]]
        : [],
    ),
  ) as DeclaredSectionsOf<R>;
}

/** The keys of a registry, as the tuple `z.enum` takes (registries are never empty). */
export function keysOf<R extends Record<string, unknown>>(
  registry: R,
): [keyof R & string, ...(keyof R & string)[]] {
  return Object.keys(registry) as [keyof R & string, ...(keyof R & string)[]];
}

/**
 * A section keyed by component type whose entries are each checked against
 * that component's own schema (unknown types are errors naming the key), for
 * components that exist only when configured (actions) or whose settings the
 * registry parses when it builds them (sources). Values are kept as given:
 * the registry parses them again when it builds the components, so a section
 * means the same whether it came through the configuration or not. A `null`
 * entry (a YAML key with nothing after it) counts as `{}`.
 *
 * @example
 * const ActionsConfig = typedMap(
 *   new Map(ACTION_FACTORIES.map((f) => [f.type, f.configSchema])),
 *   (type, known) => `no action of that type exists (known: ${known.join(', ')})`,
 * ).describe('Enabled actions: action type → its settings');
 */
export function typedMap(
  schemas: ReadonlyMap<string, z.ZodType>,
  unknownType: (type: string, known: string[]) => string,
) {
  return z.record(z.string(), z.unknown()).superRefine((entries, ctx) => {
    for (const [type, entry] of Object.entries(entries)) {
      const schema = schemas.get(type);
      if (!schema) {
        ctx.addIssue({ code: 'custom', path: [type], message: unknownType(type, [...schemas.keys()]) });
        continue;
      }
      const parsed = schema.safeParse(entry ?? {});
      if (parsed.success) continue;
      for (const issue of parsed.error.issues)
        ctx.addIssue({ code: 'custom', path: [type, ...issue.path], message: issue.message });
    }
  });
}

/**
 * Parse one component's section with its own schema, for registries that
 * build components from a section again (or from a registry extended beyond
 * the one the configuration was assembled from): `AISOC_ERR_CONFIG` naming
 * the field by its full path.
 *
 * @example parseSection(OllamaConfig, config.analyst.ollama, 'analyst.ollama') // throws naming analyst.ollama.url
 */
export function parseSection<S extends z.ZodType>(schema: S, value: unknown, path: string): z.output<S> {
  const parsed = schema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = `${path}${issue?.path.length ? `.${issue.path.join('.')}` : ''}`;
  throw new AisocError('AISOC_ERR_CONFIG', `Invalid configuration at ${field}: ${issue?.message}`, { field });
}
