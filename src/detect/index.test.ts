import { afterAll, describe, expect, it } from 'vitest';
import { makeEvent } from '../../test/helpers/builders.ts';
import { AisocError } from '../errors.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { detectConfigOf } from './config.ts';
import { buildDetectors, DETECTOR_FACTORIES } from './index.ts';
import { MlConfig } from './ml/config.ts';
import { MlService } from './ml/service.ts';
import { describeDetectorConformance } from './testing/conformance.ts';

const ctx = () => ({
  logger: silentLogger(),
  metrics: createMetrics({ defaultMetrics: false }),
  detect: { upstream_min_severity: 'medium' as const, level_overrides: {} },
});

/** A CloudTrail event whose trail was stopped: the built-in pack's "CloudTrail trail stopped or deleted". */
const stopLogging = () =>
  makeEvent({
    activity_name: 'StopLogging',
    cloud: {
      provider: 'aws',
      account_uid: '111122223333',
      service: 'cloudtrail.amazonaws.com',
      operation: 'StopLogging',
    },
    raw: {
      eventSource: 'cloudtrail.amazonaws.com',
      eventName: 'StopLogging',
      requestParameters: { name: 'org-trail' },
    },
  });

describeDetectorConformance({
  factory: DETECTOR_FACTORIES.upstream,
  fires: () => [
    makeEvent({
      finding: { title: 'Brute force', uid: '5712', severity: 'high', tags: ['sshd'], techniques: ['T1110'] },
    }),
  ],
});
describeDetectorConformance({ factory: DETECTOR_FACTORIES.sigma, fires: () => [stopLogging()] });

const ml = await MlService.open(MlConfig.parse({}), {
  metrics: createMetrics({ defaultMetrics: false }),
  logger: silentLogger(),
});
describeDetectorConformance({ factory: DETECTOR_FACTORIES.ml, ctx: { ml } });

describe('the detector registry', () => {
  afterAll(() => ml.flush());

  it('names each kind by its type and builds them in registry order', async () => {
    for (const [key, factory] of Object.entries(DETECTOR_FACTORIES)) expect(factory.type).toBe(key);
    const detect = detectConfigOf(DETECTOR_FACTORIES).parse({});
    const detectors = await buildDetectors(detect, { ...ctx(), detect, ml });
    expect(detectors.map((d) => d.name)).toEqual(['upstream', 'sigma', 'resource_policy', 'ml']);
    const off = detectConfigOf(DETECTOR_FACTORIES).parse({ sigma: { enabled: false } });
    expect((await buildDetectors(off, { ...ctx(), detect: off })).map((d) => d.name)).toEqual([
      'upstream',
      'resource_policy',
    ]);
  });

  it('parses each section again, so an extended registry is checked too, naming detect.<type>.<field>', async () => {
    let caught: unknown;
    try {
      await buildDetectors({ upstream_min_severity: 'medium', sigma: { no_such_setting: 1 } }, ctx());
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(AisocError);
    expect((caught as AisocError).field).toBe('detect.sigma');
    expect((caught as AisocError).message).toContain('no_such_setting');
  });
});
