import { z } from 'zod';
import { keysOf, sectionsOf } from '../config/sections.ts';
import { describeError } from '../errors.ts';
import { syslogReceiver } from './syslog/index.ts';
import type { Receiver, ReceiverAddress, ReceiverContext, ReceiverFactory } from './types.ts';

/**
 * Every receiver the product ships, keyed by its type: one line per
 * receiver. The key is its section under `receivers` ({@link ReceiversConfig}).
 */
export const RECEIVER_FACTORIES = { syslog: syslogReceiver } satisfies Record<
  string,
  ReceiverFactory<{ enabled: boolean }>
>;

/** The `receivers` section of the configuration: one section per registered receiver, named by its type. */
export const ReceiversConfig = z
  .strictObject(sectionsOf(RECEIVER_FACTORIES))
  .describe('Network receivers that feed the pipeline (listening sockets)');
export type ReceiversConfig = z.infer<typeof ReceiversConfig>;

/** The receivers of a running server. */
export interface RunningReceivers {
  readonly receivers: readonly Receiver[];
  /** Addresses of one receiver type (empty when it is not enabled). */
  addresses(type: keyof ReceiversConfig): ReceiverAddress[];
  /** Stop every receiver, each handing what it holds to the pipeline first. */
  stop(): Promise<void>;
}

/**
 * Start the receivers enabled in configuration. If one fails to start, the
 * ones already started are stopped and the error is thrown (fail fast).
 *
 * @example
 * const receivers = await startReceivers(config.receivers, runtime);
 * …
 * await receivers.stop(); // before runtime.close()
 */
export async function startReceivers(
  config: ReceiversConfig,
  ctx: ReceiverContext,
): Promise<RunningReceivers> {
  const started: Receiver[] = [];
  const stop = async () => {
    const results = await Promise.allSettled(started.map((r) => r.stop()));
    for (const r of results) {
      if (r.status === 'rejected')
        ctx.logger.error({ err: describeError(r.reason) }, 'A receiver failed to stop cleanly.');
    }
  };
  try {
    for (const type of keysOf(RECEIVER_FACTORIES)) {
      const section = config[type];
      if (!section.enabled) continue;
      // Widened so that the call type-checks with several receivers (each takes its own section).
      const factory: ReceiverFactory<{ enabled: boolean }> = RECEIVER_FACTORIES[type];
      const r = factory.create(section, ctx);
      await r.start();
      started.push(r);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    receivers: started,
    addresses: (type) => started.filter((r) => r.type === type).flatMap((r) => r.addresses()),
    stop,
  };
}

export type { Receiver, ReceiverAddress, ReceiverContext, ReceiverFactory } from './types.ts';
