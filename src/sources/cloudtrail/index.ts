import { z } from 'zod';
import type { SourceFactory } from '../types.ts';
import { normaliseCloudTrail, sniffCloudTrail, unwrapCloudTrail } from './parse.ts';

/** AWS CloudTrail: `{"Records": [...]}` files, bare arrays, NDJSON and EventBridge envelopes; digests are skipped. */
export const cloudtrail: SourceFactory<Record<string, never>> = {
  type: 'cloudtrail',
  description: 'AWS CloudTrail records (files, S3 exports, EventBridge)',
  configSchema: z.strictObject({}),
  create: () => ({
    type: 'cloudtrail',
    framing: 'json',
    unwrap: unwrapCloudTrail,
    normalise: normaliseCloudTrail,
  }),
  sniff: sniffCloudTrail,
};
