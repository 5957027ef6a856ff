import { z } from 'zod';
import type { SourceFactory } from '../types.ts';
import { normaliseSecurityHub, sniffSecurityHub, unwrapSecurityHub } from './parse.ts';

/**
 * AWS Security Hub findings in ASFF: bare, `{"Findings": [...]}` and
 * EventBridge `Security Hub Findings - Imported` envelopes. Findings from any
 * product Security Hub aggregates (GuardDuty, Inspector, Macie, its own
 * controls, partners) keep their verdict in `finding`.
 *
 * @example
 * const source = securityhub.create({}, { logger });
 * source.unwrap!(eventBridgeEnvelope).flatMap((f) => source.normalise(f));
 */
export const securityhub: SourceFactory<Record<string, never>> = {
  type: 'securityhub',
  description: 'AWS Security Hub findings (ASFF: GetFindings output, EventBridge)',
  verdicts: 'every finding',
  configSchema: z.strictObject({}).describe('Security Hub has no settings'),
  create: () => ({
    type: 'securityhub',
    framing: 'json',
    unwrap: unwrapSecurityHub,
    normalise: normaliseSecurityHub,
  }),
  sniff: sniffSecurityHub,
};
