import type { SourceFactory } from '../types.ts';
import { WazuhConfig } from './config.ts';
import { normaliseWazuh, sniffWazuh, unwrapWazuh } from './parse.ts';

/**
 * Wazuh manager alerts: `alerts.json` lines (NDJSON), single alerts posted by
 * the `custom-aisoc` integration to `POST /webhook`, and Wazuh indexer
 * exports. The rule that fired is the verdict; its level maps to severity by
 * the table in `docs/wazuh.md`.
 *
 * @example
 * const source = wazuh.create(WazuhConfig.parse({}), { logger });
 * source.normalise(JSON.parse(line)); // [{ class_uid: 3002, finding: { uid: '5710', severity: 'low', … } }]
 */
export const wazuh: SourceFactory<WazuhConfig> = {
  type: 'wazuh',
  description: 'Wazuh manager alerts (alerts.json, integration webhook, indexer exports)',
  verdicts: 'every alert (the Wazuh rule that fired)',
  configSchema: WazuhConfig,
  create: () => ({
    type: 'wazuh',
    framing: 'json',
    unwrap: unwrapWazuh,
    normalise: normaliseWazuh,
  }),
  sniff: sniffWazuh,
};
