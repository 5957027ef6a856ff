import { z } from 'zod';
import type { SourceFactory } from '../types.ts';
import { normaliseAlertmanager, sniffAlertmanager, unwrapAlertmanager } from './parse.ts';

export const AlertmanagerConfig = z
  .strictObject({
    severity_label: z
      .string()
      .min(1)
      .default('severity')
      .describe(
        'The alert label that holds its severity (critical, error, warning, info, none; unknown or absent: medium)',
      ),
  })
  .describe('Prometheus Alertmanager webhook notifications');
export type AlertmanagerConfig = z.infer<typeof AlertmanagerConfig>;

/**
 * Prometheus Alertmanager's webhook notifications (payload version 4),
 * posted by a `webhook_configs` receiver to `POST /ingest/alertmanager`
 * (`deploy/alertmanager/alertmanager.yml`): each alert of a notification
 * becomes an event; a firing one carries its verdict, so the upstream
 * detector raises it as an alert and platform alerts become incidents like
 * any other.
 *
 * @example
 * const source = alertmanager.create(AlertmanagerConfig.parse({}), { logger });
 * source.unwrap!(notification).flatMap((r) => source.normalise(r)); // one event per alert
 */
export const alertmanager: SourceFactory<AlertmanagerConfig> = {
  type: 'alertmanager',
  description: 'Prometheus Alertmanager webhook notifications (platform alerts)',
  configSchema: AlertmanagerConfig,
  create: (config) => ({
    type: 'alertmanager',
    framing: 'json',
    unwrap: unwrapAlertmanager,
    normalise: (record) => normaliseAlertmanager(record, config.severity_label),
  }),
  sniff: sniffAlertmanager,
};
