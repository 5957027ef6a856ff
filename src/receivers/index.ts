import { describeError } from '../errors.ts';
import type { ReceiversConfig } from './config.ts';
import { syslogReceiver } from './syslog/index.ts';
import type { Receiver, ReceiverAddress, ReceiverContext, ReceiverFactory } from './types.ts';

/** Every receiver the product ships: one line per receiver. */
export const RECEIVER_FACTORIES = { syslog: syslogReceiver } satisfies {
  [K in keyof ReceiversConfig]: ReceiverFactory<ReceiversConfig[K]>;
};

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
    if (config.syslog.enabled) {
      const r = RECEIVER_FACTORIES.syslog.create(config.syslog, ctx);
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
