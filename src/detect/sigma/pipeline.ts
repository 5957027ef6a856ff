import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { AisocError } from '../../errors.ts';
import type { NormalisedEvent } from '../../schema/event.ts';
import { type Accessor, compilePath, type FieldRegistry, type FieldSpace, scalarString } from './fields.ts';
import type { LogSource } from './model.ts';
import type { ParseCache } from './parse-cache.ts';

/**
 * Processing pipelines as data (`content/sigma/pipelines/*.yaml`): which of
 * our sources a Sigma log source means, and where each Sigma field name is
 * read in our normalised events. A pipeline names one source; each of its
 * `logsources` entries maps a Sigma log source (category/product/service)
 * to one or more `when` branches, each selecting events by log name, event
 * code and field values, optionally with its own field names (Windows
 * Security 4688 calls Sysmon's `Image` `NewProcessName`).
 */

const PathList = z
  .union([z.string(), z.array(z.string()).min(1)])
  .describe('Event path (dotted, e.g. unmapped.Image) or paths tried in order');
const Scalar = z.union([z.string(), z.number(), z.boolean()]);

export const PipelineBranch = z
  .strictObject({
    log_name: z
      .union([z.string(), z.array(z.string())])
      .optional()
      .describe('metadata.log_name values (channel, program), compared ignoring case'),
    event_code: z
      .union([Scalar, z.array(Scalar)])
      .optional()
      .describe('metadata.event_code values (Windows EventID)'),
    where: z
      .record(z.string(), z.union([Scalar, z.array(Scalar)]))
      .optional()
      .describe('Further conditions: event path → value or values (ignoring case)'),
    fields: z.record(z.string(), PathList).optional().describe('Field names specific to this branch'),
  })
  .describe('Which events a log source means');

export const PipelineLogsource = z
  .strictObject({
    category: z.string().optional(),
    product: z.string().optional(),
    service: z.string().optional(),
    when: z.array(PipelineBranch).min(1).describe('Event selections; an event meeting any of them qualifies'),
  })
  .describe('A Sigma log source and the events it stands for');

export const PipelineDoc = z
  .strictObject({
    name: z.string().min(1).describe('Pipeline name, used in reports'),
    description: z.string().optional(),
    source: z.string().min(1).describe('Source type (src/sources/<type>) whose events this pipeline maps'),
    fields: z.record(z.string(), PathList).default({}).describe('Sigma field name → event path(s)'),
    default_field: z
      .string()
      .optional()
      .describe('Template for fields not listed, e.g. raw.{field}; without it unlisted fields are absent'),
    loose_field_names: z
      .boolean()
      .default(false)
      .describe(
        'Look a missing last path key up ignoring case and spaces (Windows: Threat Name is ThreatName)',
      ),
    keywords: z
      .array(z.string())
      .default(['message'])
      .describe('Event paths whose strings keyword searches look at; a trailing .* means every string below'),
    logsources: z.array(PipelineLogsource).min(1),
  })
  .describe('A processing pipeline: Sigma log sources and field names onto normalised events');
export type PipelineDoc = z.infer<typeof PipelineDoc>;

/** One resolved branch: an event selection plus the field space rules see it through. */
export interface Branch extends FieldSpace {
  readonly pipeline: string;
  readonly source: string;
  /** Lowercase log names, or undefined for any. */
  readonly logNames?: readonly string[];
  readonly eventCodes?: readonly string[];
  /** Extra event conditions (`where`), or undefined. */
  readonly where?: (e: NormalisedEvent) => boolean;
  /** Whether the Sigma field EventID reads metadata.event_code here, so rules' EventIDs can index them. */
  readonly eventIdIsCode: boolean;
}

interface LoadedPipeline {
  doc: PipelineDoc;
  file: string;
  entries: Array<{ logsource: PipelineLogsource; branches: Branch[] }>;
}
type PipelineLogsource = z.infer<typeof PipelineLogsource>;

const LOGSOURCE_KEYS = ['category', 'product', 'service'] as const;

function listOf<T>(v: T | T[] | undefined): T[] | undefined {
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v : [v];
}

function accessorFor(paths: string | string[], ci: boolean): Accessor {
  const list = (Array.isArray(paths) ? paths : [paths]).map((p) => compilePath(p, ci));
  if (list.length === 1) return list[0]!;
  return (e) => {
    for (const a of list) {
      const v = a(e);
      if (v !== undefined) return v;
    }
    return undefined;
  };
}

function keywordAccessor(path: string): Accessor {
  if (path.endsWith('.*')) return compilePath(path.slice(0, -2));
  return compilePath(path);
}

/**
 * The pipelines of one engine: resolves a rule's log source to branches.
 *
 * @example
 * const p = new Pipelines(registry);
 * p.add(loadPipelineFile('content/sigma/pipelines/cloudtrail.yaml'));
 * p.branchesFor({ product: 'aws', service: 'cloudtrail' }) // [Branch cloudtrail]
 */
export class Pipelines {
  private readonly loaded: LoadedPipeline[] = [];

  constructor(private readonly registry: FieldRegistry) {}

  /** Add a validated pipeline document. */
  add(doc: PipelineDoc, file = doc.name): void {
    // One list for every branch of the pipeline: an event view keeps its keyword strings from one
    // branch to the next when the list is the same (see EventView.reset).
    const keywords = doc.keywords.map(keywordAccessor);
    const entries = doc.logsources.map((ls, li) => ({
      logsource: ls,
      branches: ls.when.map((w, wi) =>
        this.branch(doc, ls, w, `${doc.name}/${describeLogsource(ls)}#${li}.${wi}`, keywords),
      ),
    }));
    this.loaded.push({ doc, file, entries });
  }

  get names(): string[] {
    return this.loaded.map((p) => p.doc.name);
  }

  /** Source types some pipeline maps. */
  sources(): Set<string> {
    return new Set(this.loaded.map((p) => p.doc.source));
  }

  private branch(
    doc: PipelineDoc,
    _ls: PipelineLogsource,
    w: z.infer<typeof PipelineBranch>,
    name: string,
    keywordAccessors: readonly Accessor[],
  ): Branch {
    const registry = this.registry;
    const accessors: Accessor[] = [];
    const ci = doc.loose_field_names;
    const resolve = (field: string): Accessor => {
      const mapped = w.fields?.[field] ?? doc.fields[field];
      if (mapped) return accessorFor(mapped, ci);
      if (doc.default_field) return accessorFor(doc.default_field.replace('{field}', field), ci);
      return () => undefined;
    };
    const whereTests = Object.entries(w.where ?? {}).map(([path, want]) => {
      const a = compilePath(path);
      const allowed = new Set((listOf(want) ?? []).map((x) => String(x).toLowerCase()));
      return (e: NormalisedEvent) => {
        const v = a(e);
        const values = Array.isArray(v) ? v : [v];
        return values.some((x) => {
          const s = scalarString(x);
          return s !== undefined && allowed.has(s.toLowerCase());
        });
      };
    });
    const where = whereTests.length === 0 ? undefined : (e: NormalisedEvent) => whereTests.every((t) => t(e));
    const logNames = listOf(w.log_name)?.map((s) => s.toLowerCase());
    const eventCodes = listOf(w.event_code)?.map((s) => String(s));
    const eventIdPath = w.fields?.EventID ?? doc.fields.EventID;
    const branch: Branch = {
      name,
      eventIdIsCode: (Array.isArray(eventIdPath) ? eventIdPath[0] : eventIdPath) === 'metadata.event_code',
      pipeline: doc.name,
      source: doc.source,
      keywordAccessors,
      accessor(slot: number): Accessor {
        let a = accessors[slot];
        if (!a) {
          a = resolve(registry.names[slot]!);
          accessors[slot] = a;
        }
        return a;
      },
      ...(logNames ? { logNames } : {}),
      ...(eventCodes ? { eventCodes } : {}),
      ...(where ? { where } : {}),
    };
    return branch;
  }

  /**
   * Branches a rule's log source stands for. A pipeline entry qualifies when
   * every key the rule gives (category, product, service) is in the entry
   * with the same value, ignoring case; the entry may be more specific (a
   * rule for `category: process_creation` runs on Windows and Linux).
   */
  branchesFor(logsource: LogSource): Branch[] {
    const out: Branch[] = [];
    const given = LOGSOURCE_KEYS.filter((k) => logsource[k] !== undefined);
    for (const p of this.loaded) {
      for (const e of p.entries) {
        const ok = given.every((k) => e.logsource[k]?.toLowerCase() === logsource[k]!.toLowerCase());
        if (ok && given.length > 0) out.push(...e.branches);
      }
    }
    return out;
  }
}

export function describeLogsource(ls: Partial<Record<(typeof LOGSOURCE_KEYS)[number], string>>): string {
  return LOGSOURCE_KEYS.filter((k) => ls[k])
    .map((k) => `${k}:${ls[k]}`)
    .join(',');
}

/** Read and validate one pipeline file, naming the field at fault. */
export function loadPipelineFile(file: string, cache?: ParseCache): PipelineDoc {
  let value: unknown;
  try {
    const text = readFileSync(file, 'utf8');
    value = cache ? cache.value(text) : parseYaml(text);
  } catch (err) {
    throw new AisocError('AISOC_ERR_CONFIG', `${file}: ${(err as Error).message}`, { file });
  }
  const parsed = PipelineDoc.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new AisocError(
      'AISOC_ERR_CONFIG',
      `${file}: ${issue.path.join('.') || '(document)'}: ${issue.message}`,
      { file, field: issue.path.join('.') },
    );
  }
  return parsed.data;
}

/** Every `*.yaml`/`*.yml` pipeline in a directory, sorted by name. */
export function loadPipelineDir(dir: string, cache?: ParseCache): Array<{ file: string; doc: PipelineDoc }> {
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => ({ file: join(dir, f), doc: loadPipelineFile(join(dir, f), cache) }));
}
