import { z } from 'zod';
import type { SourceFactory } from '../types.ts';
import { HomeNet, HomeNetConfig } from './network.ts';
import { sniffSuricata, suricataNormaliser } from './parse.ts';

export const SuricataConfig = z
  .strictObject({
    home_net: HomeNetConfig,
    skip_event_types: z
      .array(z.string().min(1))
      .default([])
      .describe(
        'EVE event types counted but not stored (e.g. ["netflow"] to save space); stats records are never stored',
      ),
  })
  .describe('Suricata EVE JSON (eve.json: NDJSON, or JSON arrays)');
export type SuricataConfig = z.infer<typeof SuricataConfig>;

/**
 * Suricata EVE JSON: alerts become detection findings (severity from the
 * rule's classtype priority), flows and netflows fill `network` counters,
 * dns/http/tls/ssh/fileinfo/anomaly records their own objects; `stats` is
 * counted, never stored.
 *
 * @example
 * const source = suricata.create(SuricataConfig.parse({}), { logger });
 * source.normalise(JSON.parse(eveLine));
 */
export const suricata: SourceFactory<SuricataConfig> = {
  type: 'suricata',
  description: 'Suricata EVE JSON (alerts, flows, dns, http, tls, ssh, fileinfo, anomaly)',
  verdicts: 'alert events (the signature that fired)',
  configSchema: SuricataConfig,
  create: (config) => ({
    type: 'suricata',
    framing: 'json',
    normalise: suricataNormaliser({
      homeNet: new HomeNet(config.home_net),
      skip: new Set(config.skip_event_types),
    }),
  }),
  sniff: sniffSuricata,
};
