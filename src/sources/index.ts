import type { Logger } from 'pino';
import { configError } from '../config/load.ts';
import { typedMap } from '../config/sections.ts';
import { AisocError } from '../errors.ts';
import { alertmanager } from './alertmanager/index.ts';
import { cloudtrail } from './cloudtrail/index.ts';
import { generic } from './generic/index.ts';
import { guardduty } from './guardduty/index.ts';
import { securityhub } from './securityhub/index.ts';
import { suricata } from './suricata/index.ts';
import { syslog } from './syslog/index.ts';
import type { Source, SourceFactory } from './types.ts';
import { wazuh } from './wazuh/index.ts';
import { windows } from './windows/index.ts';
import { zeek } from './zeek/index.ts';

/** Every source the product ships: one line per source. */
export const SOURCE_FACTORIES: readonly SourceFactory<never>[] = [
  alertmanager,
  cloudtrail,
  generic,
  guardduty,
  securityhub,
  suricata,
  syslog,
  wazuh,
  windows,
  zeek,
] as unknown as SourceFactory<never>[];

/**
 * The `sources` section of the configuration: source type → that source's
 * settings, each checked against the source's own `configSchema`; a type no
 * registered source has is an error naming `sources.<type>`.
 */
export const SourcesConfig = typedMap(
  new Map(SOURCE_FACTORIES.map((f) => [f.type, f.configSchema])),
  (type) => `no source of type ${type} exists`,
).describe('Per-source settings, keyed by source type; each source validates its own section');

/**
 * The sources of one runtime, built from configuration at start-up (bad
 * config fails fast, naming the field).
 */
export class SourceRegistry {
  private readonly sources = new Map<string, Source>();
  private readonly factories = new Map<string, SourceFactory<never>>();

  constructor(
    config: Record<string, unknown>,
    logger: Logger,
    factories: readonly SourceFactory<never>[] = SOURCE_FACTORIES,
  ) {
    for (const key of Object.keys(config)) {
      if (!factories.some((f) => f.type === key)) {
        throw new AisocError('AISOC_ERR_CONFIG', `sources.${key}: no source of type ${key} exists`, {
          field: `sources.${key}`,
        });
      }
    }
    for (const f of factories) {
      const parsed = f.configSchema.safeParse(config[f.type] ?? {});
      if (!parsed.success) {
        const err = configError(parsed.error, `sources.${f.type}`);
        throw err;
      }
      this.factories.set(f.type, f);
      this.sources.set(f.type, f.create(parsed.data as never, { logger }));
    }
  }

  get(type: string): Source {
    const s = this.sources.get(type);
    if (!s) {
      throw new AisocError(
        'AISOC_ERR_UNKNOWN_SOURCE',
        `No source of type ${JSON.stringify(type)}; known: ${this.types().join(', ')}`,
        {
          field: 'source',
        },
      );
    }
    return s;
  }

  has(type: string): boolean {
    return this.sources.has(type);
  }

  types(): string[] {
    return [...this.sources.keys()];
  }

  describe(): Array<{ type: string; description: string; verdicts?: string }> {
    return [...this.factories.values()].map((f) => ({
      type: f.type,
      description: f.description,
      ...(f.verdicts ? { verdicts: f.verdicts } : {}),
    }));
  }

  /** The most likely source of a record, or undefined when none claims it. */
  sniff(record: unknown): { type: string; score: number } | undefined {
    let best: { type: string; score: number } | undefined;
    for (const f of this.factories.values()) {
      const score = f.sniff?.(record) ?? 0;
      if (score > 0 && (!best || score > best.score)) best = { type: f.type, score };
    }
    return best;
  }
}
