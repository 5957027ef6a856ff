import { describe, expect, it } from 'vitest';
import { makeEvent } from '../../../test/helpers/builders.ts';
import type { Detection } from '../../schema/alert.ts';
import type { SeverityName } from '../../schema/common.ts';
import type { NormalisedEvent } from '../../schema/event.ts';
import type { AlertCandidate } from '../types.ts';
import {
  adjustCandidates,
  BaselineView,
  isBaselineFeed,
  MemoryBaselines,
  type NoiseSettings,
  observeBatch,
} from './baseline.ts';
import { NoiseConfig } from './config.ts';
import { agentFamily, cloudCall, principalOf } from './observe.ts';

const MIN = 60_000;
const T0 = Date.parse('2026-01-05T00:00:00Z');
const settings: NoiseSettings = { ...NoiseConfig.parse({}), learning_window_ms: 10 * MIN };

/** A CloudTrail call by `user` at minute `m` after T0. */
function call(
  user: string,
  operation: string,
  m: number,
  extra: { region?: string; ua?: string; arn?: string } = {},
) {
  return makeEvent({
    time: new Date(T0 + m * MIN).toISOString(),
    actor: { user: { name: user, arn: extra.arn ?? `arn:aws:iam::111122223333:user/${user}` } },
    cloud: {
      provider: 'aws',
      account_uid: '111122223333',
      service: 'ec2.amazonaws.com',
      operation,
      region: extra.region ?? 'eu-west-1',
      user_agent: extra.ua ?? 'aws-cli/2.15.0 Python/3.11.6',
    },
  });
}

function candidate(
  events: NormalisedEvent[],
  level: SeverityName = 'low',
  engine: Detection['engine'] = 'sigma',
): AlertCandidate {
  return {
    detection: {
      engine,
      rule_id: 'r',
      rule_title: 'Rule',
      level,
      tags: [],
      event_ids: events.map((e) => e.id),
    },
    events,
  };
}

/** Run calls through memory baselines in batches; each call is also a candidate of the given level. */
function levels(
  calls: NormalisedEvent[],
  level: SeverityName = 'low',
  s: NoiseSettings = settings,
  batch = 1,
) {
  const noise = new MemoryBaselines(s);
  const out: AlertCandidate[] = [];
  for (let i = 0; i < calls.length; i += batch) {
    const b = calls.slice(i, i + batch);
    const cs = b.map((e) => candidate([e], level));
    noise.process(b, cs);
    out.push(...cs);
  }
  return out.map((c) => [c.detection.level, c.detection.rarity?.verdict]);
}

describe('what a baseline remembers of a call', () => {
  it('keys an assumed role by its role, not its session', () => {
    const e = call('x', 'DescribeInstances', 0, {
      arn: 'arn:aws:sts::111122223333:assumed-role/deploy/i-0abc123',
    });
    expect(principalOf(e)).toBe('arn:aws:sts::111122223333:assumed-role/deploy');
    expect(cloudCall(e)).toEqual({
      identity: 'arn:aws:sts::111122223333:assumed-role/deploy',
      api: 'ec2:DescribeInstances',
      region: 'eu-west-1',
      user_agent: 'aws-cli Python',
    });
  });

  it.each([
    ['aws-cli/2.15.0 Python/3.11.6 Linux/6.1.0 exe/x86_64.debian.12', 'aws-cli Python Linux exe'],
    ['aws-cli/2.17.1 Python/3.12.1 Linux/6.5.0 exe/x86_64.debian.12', 'aws-cli Python Linux exe'],
    ['[Boto3/1.26.165 Python/3.10.6 Linux/5.19.0-1025-aws Botocore/1.29.165]', 'Boto3 Python Linux Botocore'],
    [
      'APN/1.0 HashiCorp/1.0 Terraform/1.1.2 (+https://www.terraform.io) terraform-provider-aws/3.76.1',
      'APN HashiCorp Terraform terraform-provider-aws',
    ],
    ['AWS Internal', 'AWS Internal'],
    ['', '(none)'],
    [undefined, '(none)'],
  ])('reads the user agent %j as the family %j', (ua, family) => {
    expect(agentFamily(ua)).toBe(family);
  });

  it('cuts a long user agent, and takes no event that is not a cloud call', () => {
    expect(agentFamily(`x${'y'.repeat(10_000)}`).length).toBeLessThanOrEqual(200);
    expect(cloudCall(makeEvent({ cloud: undefined }))).toBeUndefined();
    expect(observeBatch([makeEvent({ cloud: undefined })])).toBeUndefined();
  });

  it('reports a batch once: its feed is keyed by its events, and bounded per identity', () => {
    const a = call('alice', 'ListBuckets', 0);
    const b = call('alice', 'ListBuckets', 1);
    const feed = observeBatch([a, b])!;
    expect(isBaselineFeed(feed)).toBe(true);
    expect(observeBatch([b, a])!.id).toBe(feed.id);
    expect(feed.observations.find((o) => o.dim === 'api')).toMatchObject({
      count: 2,
      first: T0,
      last: T0 + MIN,
    });
    const spray = Array.from({ length: 400 }, (_, i) =>
      call('mallory', 'ListBuckets', 0, { ua: `tool${i}/1.0` }),
    );
    const agents = observeBatch(spray)!.observations.filter((o) => o.dim === 'user_agent');
    expect(agents).toHaveLength(256);
  });
});

describe('rarity and the level it moves', () => {
  it('moves nothing while the baselines learn', () => {
    expect(levels([call('alice', 'A', 0), call('alice', 'A', 1), call('alice', 'B', 9)])).toEqual([
      ['low', 'learning'],
      ['low', 'learning'],
      ['low', 'learning'],
    ]);
  });

  it('lowers a call seen before, raises a call new for an identity watched a learning window long', () => {
    const r = levels([
      call('alice', 'A', 0),
      call('alice', 'A', 12), // familiar: every part seen before
      call('alice', 'B', 13), // a new API for alice, watched for 13 minutes: raised
      call('alice', 'A', 14, { region: 'ap-south-1' }), // a new region: raised
      call('alice', 'A', 15, { ua: 'Boto3/1.26 Python/3.10' }), // a new tool: raised
    ]);
    expect(r).toEqual([
      ['low', 'learning'],
      ['informational', 'familiar'],
      ['medium', 'new'],
      ['medium', 'new'],
      ['medium', 'new'],
    ]);
  });

  it('does not raise for an identity whose own history is shorter than the learning window', () => {
    expect(levels([call('alice', 'A', 0), call('bob', 'A', 12), call('bob', 'B', 13)])).toEqual([
      ['low', 'learning'],
      ['low', 'new'],
      ['low', 'new'],
    ]);
  });

  it('counts calls before a call in event time, within a batch and across batches alike', () => {
    const calls = [call('alice', 'A', 0), call('alice', 'A', 12), call('alice', 'A', 13)];
    expect(levels(calls, 'low', settings, 3)).toEqual(levels(calls, 'low', settings, 1));
    // Two calls at the same instant: neither came before the other.
    expect(
      levels([call('alice', 'A', 0), call('alice', 'B', 12), call('alice', 'B', 12)], 'low', settings, 3),
    ).toEqual([
      ['low', 'learning'],
      ['medium', 'new'],
      ['medium', 'new'],
    ]);
  });

  it('asks for as many earlier calls as familiar_after_calls says', () => {
    const three = { ...settings, familiar_after_calls: 3 };
    const calls = [0, 11, 12, 13].map((m) => call('alice', 'A', m));
    expect(levels(calls, 'medium', three)).toEqual([
      ['medium', 'learning'],
      ['medium', 'seen'],
      ['medium', 'seen'],
      ['low', 'familiar'],
    ]);
  });

  it('raises no higher than raise_limit, and lowers no lower than informational', () => {
    expect(levels([call('alice', 'A', 0), call('alice', 'B', 12)], 'high')[1]).toEqual(['high', 'new']);
    expect(
      levels([call('alice', 'A', 0), call('alice', 'B', 12)], 'medium', {
        ...settings,
        raise_limit: 'critical',
      })[1],
    ).toEqual(['high', 'new']);
    expect(levels([call('alice', 'A', 0), call('alice', 'A', 12)], 'informational')[1]).toEqual([
      'informational',
      'familiar',
    ]);
  });

  it('judges an alert over several calls by its most novel call, and records why its level moved', () => {
    const calls = [call('alice', 'A', 0), call('alice', 'B', 1)];
    const later = [call('alice', 'A', 12), call('alice', 'C', 12.5)];
    const noise = new MemoryBaselines(settings);
    noise.process(calls, []);
    const c = candidate(later, 'low');
    noise.process(later, [c]);
    expect(c.detection).toMatchObject({
      level: 'medium',
      rule_level: 'low',
      rarity: {
        verdict: 'new',
        score: 1,
        first_seen: ['api'],
        identity: 'arn:aws:iam::111122223333:user/alice',
      },
      level_reasons: [expect.stringMatching(/api first seen for .*alice.*raised from low/)],
    });
  });

  it('leaves models and upstream verdicts as they are by default', () => {
    const first = call('alice', 'A', 0);
    const again = call('alice', 'A', 12);
    const feed = observeBatch([first, again])!;
    const view = new BaselineView([], [feed], settings);
    const ml = candidate([again], 'high', 'ml');
    const up = candidate([again], 'high', 'upstream');
    const rule = candidate([again], 'high', 'rule');
    expect(adjustCandidates([ml, up, rule], view, settings)).toEqual({ raised: 0, lowered: 1 });
    expect([ml, up, rule].map((c) => c.detection.level)).toEqual(['high', 'high', 'medium']);
  });

  it('leaves detections of events that are not cloud calls alone', () => {
    const e = makeEvent({ cloud: undefined, time: new Date(T0 + 60 * MIN).toISOString() });
    const c = candidate([e], 'low');
    new MemoryBaselines(settings).process([e], [c]);
    expect(c.detection.level).toBe('low');
    expect(c.detection.rarity).toBeUndefined();
  });
});

describe('NoiseConfig', () => {
  it('has defaults that need no data to choose, and refuses what makes no sense', () => {
    expect(NoiseConfig.parse({})).toEqual({
      enabled: true,
      learning_window_ms: 7 * 86_400_000,
      familiar_after_calls: 1,
      raise_limit: 'high',
      forget_after_ms: 45 * 86_400_000,
      engines: ['sigma', 'rule'],
    });
    expect(NoiseConfig.safeParse({ familiar_after_calls: 0 }).success).toBe(false);
    expect(NoiseConfig.safeParse({ forget_after_ms: 1000 }).success).toBe(false);
    expect(NoiseConfig.safeParse({ nope: 1 }).success).toBe(false);
  });
});
