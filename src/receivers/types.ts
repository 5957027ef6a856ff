import type { Logger } from 'pino';
import type { z } from 'zod';
import type { IngestService } from '../pipeline/ingest.ts';
import type { PipelineRunner } from '../pipeline/runner.ts';
import type { SourceRegistry } from '../sources/index.ts';
import type { Metrics } from '../telemetry/metrics.ts';

/** What a receiver needs from the runtime: where to hand records, and where to report. */
export interface ReceiverContext {
  readonly ingest: Pick<IngestService, 'ingestFramed'>;
  readonly sources: Pick<SourceRegistry, 'get'>;
  /** For inputs refused before any source sees them (oversize messages): stored as dead letters. */
  readonly runner: Pick<PipelineRunner, 'submit'>;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/** An address a receiver listens on, with the port the system gave it. */
export interface ReceiverAddress {
  protocol: 'udp' | 'tcp';
  host: string;
  port: number;
}

/**
 * A component that listens on sockets and feeds the ingest service. Started
 * after the runtime, stopped before it: `stop` stops listening, then hands
 * what it holds to the pipeline (within a time limit) before resolving.
 */
export interface Receiver {
  readonly type: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Where it listens (after `start`). */
  addresses(): ReceiverAddress[];
}

/**
 * The component contract for receivers, like sources':
 * `{ type, configSchema, create(config, ctx) }`. Adding one is a folder under
 * `src/receivers/<type>/` and a line in `src/receivers/index.ts`, which makes
 * its config schema the section `receivers.<type>`: every field needs a
 * default, and `enabled` says whether the server starts it.
 */
export interface ReceiverFactory<C> {
  readonly type: string;
  readonly description: string;
  readonly configSchema: z.ZodType<C>;
  create(config: C, ctx: ReceiverContext): Receiver;
}
