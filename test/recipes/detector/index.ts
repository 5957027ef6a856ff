/**
 * Example for docs/ARCHITECTURE.md, "How to add a detector": written as that
 * recipe says, in the folder a product detector would have
 * (`src/detect/login_burst/index.ts`); `test/recipes.test.ts` plugs it in the
 * way its line in `DETECTOR_FACTORIES` would, and runs the detector
 * conformance suite on it.
 *
 * It reports a burst of failed sign-ins from one address within a batch.
 * It keeps no state between batches, as the detect stage requires (workers
 * share it); a product detector counting across batches would take the
 * `windowed` form, its windows kept by the correlate stage, as Sigma
 * correlation rules do.
 */
import { z } from 'zod';
import type { AlertCandidate, DetectorFactory } from '../../../src/detect/types.ts';
import type { NormalisedEvent } from '../../../src/schema/event.ts';
import { loginBurstMetrics } from './metrics.ts';

/** `detect.login_burst`: strict, every field with a default. */
export const LoginBurstConfig = z
  .strictObject({
    min_failures: z
      .number()
      .int()
      .min(2)
      .default(5)
      .describe('Failed sign-ins from one address, within one batch, that raise an alert'),
    level: z
      .enum(['informational', 'low', 'medium', 'high', 'critical'])
      .default('high')
      .describe('Level of the alert'),
  })
  .describe('Bursts of failed sign-ins from one address');
export type LoginBurstConfig = z.infer<typeof LoginBurstConfig>;

/** OCSF Authentication. */
const AUTHENTICATION = 3002;

/** The registry entry: one line `login_burst: loginBurstDetector,` in `DETECTOR_FACTORIES` would ship it. */
export const loginBurstDetector = {
  type: 'login_burst',
  description: 'Bursts of failed sign-ins from one address (brute force, password spraying)',
  configSchema: LoginBurstConfig,
  create: (section: LoginBurstConfig, ctx) => {
    const metrics = loginBurstMetrics(ctx.metrics);
    return [
      {
        name: 'login_burst',
        detect(events: NormalisedEvent[]): AlertCandidate[] {
          const byAddress = new Map<string, NormalisedEvent[]>();
          for (const e of events) {
            const ip = e.src_endpoint?.ip;
            if (e.class_uid !== AUTHENTICATION || e.status !== 'failure' || !ip) continue;
            byAddress.set(ip, [...(byAddress.get(ip) ?? []), e]);
          }
          const out: AlertCandidate[] = [];
          for (const [ip, failed] of byAddress) {
            if (failed.length < section.min_failures) continue;
            metrics.bursts.inc();
            out.push({
              detection: {
                // One of DetectionEngine (src/schema/alert.ts): a threshold over several events is a correlation.
                engine: 'correlation',
                rule_id: 'login_burst',
                rule_title: 'Burst of failed sign-ins from one address',
                level: section.level,
                tags: ['attack.t1110', 'attack.credential_access'],
                description: `${failed.length} failed sign-ins from ${ip}`,
                event_ids: failed.map((e) => e.id),
              },
              events: failed,
            });
          }
          return out;
        },
      },
    ];
  },
} satisfies DetectorFactory<LoginBurstConfig>;
