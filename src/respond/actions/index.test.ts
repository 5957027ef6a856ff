import { describe, expect, it } from 'vitest';
import { AisocError } from '../../errors.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { ACTION_FACTORIES, actionFactory, createAction, listActions } from './index.ts';

describe('response action registry', () => {
  it('registers every action of the design once, with its declared effect', () => {
    expect(Object.fromEntries(listActions().map((a) => [a.type, a.effect]))).toEqual({
      'aws.iam.disable_access_key': 'reversible',
      'aws.ec2.revoke_security_group_ingress': 'reversible',
      'aws.ec2.quarantine_instance': 'reversible',
      'aws.secretsmanager.rotate_secret': 'destructive',
      'aws.wafv2.block_ip': 'reversible',
      'notify.slack': 'read-only',
      'notify.email': 'read-only',
      'notify.sns': 'read-only',
      'notify.pagerduty': 'reversible',
      'notify.webhook': 'read-only',
      'wazuh.active_response': 'reversible',
      'local.block_ip': 'reversible',
    });
    expect(new Set(ACTION_FACTORIES.map((f) => f.type)).size).toBe(ACTION_FACTORIES.length);
  });

  it('refuses an unknown type with a typed error naming the field', () => {
    let caught: unknown;
    try {
      actionFactory('aws.iam.delete_user');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(AisocError);
    expect((caught as AisocError).code).toBe('AISOC_ERR_ACTION_UNKNOWN');
    expect((caught as AisocError).field).toBe('type');
  });

  it('builds an action from a type and a config, failing fast on a bad config', () => {
    const a = createAction('local.block_ip', {}, { logger: silentLogger() });
    expect(a.type).toBe('local.block_ip');
    expect(typeof a.rollback).toBe('function');
    expect(() => createAction('local.block_ip', { enabled: 'yes' }, { logger: silentLogger() })).toThrow(
      /enabled/,
    );
  });
});
