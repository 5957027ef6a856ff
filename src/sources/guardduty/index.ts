import { z } from 'zod';
import type { SourceFactory } from '../types.ts';
import { normaliseGuardDuty, sniffGuardDuty, unwrapGuardDuty } from './parse.ts';

/**
 * Amazon GuardDuty findings: bare, in arrays or `{"Findings": [...]}` (API and
 * CLI output), in EventBridge envelopes (`detail-type: GuardDuty Finding`),
 * and in Wazuh's GuardDuty sample documents. Each finding revision becomes an
 * OCSF Detection Finding carrying GuardDuty's verdict.
 *
 * @example
 * const source = guardduty.create({}, { logger });
 * source.normalise(finding); // [{ class_uid: 2004, finding: { uid: 'Recon:EC2/PortProbeUnprotectedPort', … } }]
 */
export const guardduty: SourceFactory<Record<string, never>> = {
  type: 'guardduty',
  description: 'Amazon GuardDuty findings (API/CLI output, S3 exports, EventBridge)',
  verdicts: 'every finding',
  configSchema: z.strictObject({}).describe('GuardDuty has no settings'),
  create: () => ({
    type: 'guardduty',
    framing: 'json',
    unwrap: unwrapGuardDuty,
    normalise: normaliseGuardDuty,
  }),
  sniff: sniffGuardDuty,
};
