import { z } from 'zod';

const DAY_MS = 86_400_000;

/**
 * `detect.noise`: noise control for cloud rules. Every default is a
 * reasoned choice, not a fit to a data set (docs/noise.md says why each).
 */
export const NoiseConfig = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe('Keep first-seen baselines of cloud calls and let rarity move the level of rule detections'),
    learning_window_ms: z
      .number()
      .int()
      .min(0)
      .default(7 * DAY_MS)
      .describe(
        'How long the baselines watch before rarity moves a level (ms of event time from their first call): one full week, so weekday and weekend routines are both seen; an identity is judged new-for-itself only once its own history is this long',
      ),
    familiar_after_calls: z
      .number()
      .int()
      .min(1)
      .max(16)
      .default(1)
      .describe(
        'A call is familiar, and its detection one level lower, when its identity, API, region and user-agent family were each seen on at least this many earlier calls of the identity: 1 is the first-seen baseline itself (seen before, or not)',
      ),
    raise_limit: z
      .enum(['low', 'medium', 'high', 'critical'])
      .default('high')
      .describe(
        'Rarity raises a level at most to this: being new is a reason to look, not proof of an incident (critical stays the rule’s own word)',
      ),
    forget_after_ms: z
      .number()
      .int()
      .min(DAY_MS)
      .default(45 * DAY_MS)
      .describe(
        'Parts of calls not seen for this long (event time, from the newest call) are forgotten: longer than a month, so monthly jobs stay known',
      ),
    engines: z
      .array(z.enum(['sigma', 'rule', 'ml', 'upstream']))
      .default(['sigma', 'rule'])
      .describe(
        'Engines whose detections rarity moves: rules; models read behaviour themselves and upstream products have judged already',
      ),
  })
  .describe(
    'Noise control: first-seen baselines of cloud calls per identity, and rarity that lowers or raises a level',
  );
export type NoiseConfig = z.infer<typeof NoiseConfig>;
