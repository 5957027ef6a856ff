/**
 * `cloudtrail18`: the 18 CloudTrail features of DESIGN §2, exactly as
 * listed. Times are UTC; day_of_week counts from Monday = 0; is_internal_ip
 * is RFC 1918 only. None of them reads the user agent.
 */
import type { EventDraft } from '../../../schema/event.ts';
import {
  isAwsService,
  isCloudTrailCall,
  isDeleteCall,
  isReadCall,
  isRfc1918,
  requestParamCount,
  serviceOf,
  weekdayMondayFirst,
} from './cloudtrail-common.ts';
import { FeatureError, type FeatureSet, flag, numberCell } from './types.ts';

export const CLOUDTRAIL18_COLUMNS = [
  'has_error',
  'is_root',
  'is_iam_user',
  'is_assumed_role',
  'is_read',
  'is_write',
  'is_delete',
  'hour_of_day',
  'day_of_week',
  'is_weekend',
  'is_iam',
  'is_ec2',
  'is_s3',
  'is_lambda',
  'is_kms',
  'is_internal_ip',
  'is_aws_service',
  'request_param_count',
] as const;

/**
 * The 18 features of one CloudTrail call.
 *
 * @example
 * cloudtrail18Vector(event); // [0, 0, 1, 0, 1, 0, 0, 11, 0, 0, …]
 */
export function cloudtrail18Vector(e: EventDraft): number[] {
  const type = e.actor?.user?.type;
  const t = new Date(e.time);
  const dow = weekdayMondayFirst(t);
  const service = serviceOf(e);
  const read = isReadCall(e);
  const del = isDeleteCall(e);
  return [
    flag(e.cloud?.error_code !== undefined || e.status === 'failure'),
    flag(type === 'Root'),
    flag(type === 'IAMUser'),
    flag(type === 'AssumedRole'),
    flag(read),
    flag(!read && !del),
    flag(del),
    t.getUTCHours(),
    dow,
    flag(dow >= 5),
    flag(service === 'iam'),
    flag(service === 'ec2'),
    flag(service === 's3'),
    flag(service === 'lambda'),
    flag(service === 'kms'),
    flag(isRfc1918(e.src_endpoint?.ip)),
    flag(isAwsService(e)),
    requestParamCount(e),
  ];
}

export const cloudtrail18: FeatureSet = {
  name: 'cloudtrail18',
  version: 1,
  description: 'The 18 CloudTrail features of the system this replaces (DESIGN §2), computed from one event',
  columns: CLOUDTRAIL18_COLUMNS,
  input: 'events',
  negativeLabel: 'benign',
  requiredColumns(header) {
    return CLOUDTRAIL18_COLUMNS.filter((c) => !header.has(c));
  },
  fromRow(row) {
    // A CSV of precomputed features, one column per feature name (the format the old training script wrote).
    return CLOUDTRAIL18_COLUMNS.map((c) => {
      const v = numberCell(row, c);
      if (!Number.isFinite(v)) throw new FeatureError(c, `${v} is not a finite number`);
      return v;
    });
  },
  fromEvent(event) {
    return isCloudTrailCall(event) ? cloudtrail18Vector(event) : undefined;
  },
};
