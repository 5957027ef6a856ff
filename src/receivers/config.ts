import { z } from 'zod';
import { SyslogReceiverConfig } from './syslog/config.ts';

/**
 * The `receivers` section of the configuration: one key per receiver type.
 * Kept free of runtime imports so the config schema can include it.
 */
export const ReceiversConfig = z
  .strictObject({
    syslog: SyslogReceiverConfig.default(SyslogReceiverConfig.parse({})),
  })
  .describe('Network receivers that feed the pipeline (listening sockets)');

export type ReceiversConfig = z.infer<typeof ReceiversConfig>;
