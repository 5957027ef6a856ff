import { AisocError, type ErrorCode } from '../../../errors.ts';
import { withRetry } from '../retry.ts';
import type { RunContext } from '../types.ts';

/** The fields of an AWS SDK v3 service exception that classification reads. */
interface AwsErrorShape {
  name?: string;
  message?: string;
  Code?: string;
  $fault?: 'client' | 'server';
  $retryable?: { throttling?: boolean };
  $metadata?: { httpStatusCode?: number; requestId?: string };
  code?: string;
}

const THROTTLING = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'SlowDown',
  'PriorRequestNotComplete',
  'EC2ThrottledException',
  'ProvisionedThroughputExceededException',
]);

const TRANSIENT = new Set([
  'InternalError',
  'InternalFailure',
  'InternalServerError',
  'InternalServiceError',
  'InternalServiceErrorException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'ServiceFailure',
  'ServiceFailureException',
  'WAFInternalErrorException',
  'WAFServiceLinkedRoleErrorException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
]);

const NETWORK = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
]);

const ACCESS_DENIED = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'UnauthorizedOperation',
  'UnauthorizedAccess',
  'AuthorizationError',
  'AuthorizationErrorException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'ExpiredToken',
  'ExpiredTokenException',
  'SignatureDoesNotMatch',
  'CredentialsProviderError',
]);

/** Error names that mean the target does not exist (`*.NotFound` covers most of EC2). */
const NOT_FOUND = new Set([
  'NoSuchEntity',
  'NoSuchEntityException',
  'ResourceNotFoundException',
  'WAFNonexistentItemException',
  'NotFound',
  'NotFoundException',
]);

function shape(err: unknown): AwsErrorShape {
  return typeof err === 'object' && err !== null ? (err as AwsErrorShape) : {};
}

/** The AWS error code (`InvalidGroup.NotFound`, `ThrottlingException`) of a thrown value. */
export function awsErrorName(err: unknown): string {
  const e = shape(err);
  return e.name ?? e.Code ?? e.code ?? 'Error';
}

/** Whether an error is one of the named AWS error codes. */
export function isAwsError(err: unknown, ...names: string[]): boolean {
  return names.includes(awsErrorName(err));
}

/** Whether a failed AWS call is worth another attempt: throttling, 5xx, network. */
export function classifyAwsError(err: unknown): { retry: boolean; reason?: string } {
  const e = shape(err);
  const name = awsErrorName(err);
  if (THROTTLING.has(name) || e.$retryable?.throttling) return { retry: true, reason: 'throttled' };
  const status = e.$metadata?.httpStatusCode;
  if (TRANSIENT.has(name) || (status !== undefined && status >= 500) || e.$fault === 'server')
    return { retry: true, reason: 'server_error' };
  if (NETWORK.has(e.code ?? '') || NETWORK.has(name)) return { retry: true, reason: 'network' };
  return { retry: false };
}

/** The typed error for a final AWS failure; the message names the call and AWS's own code. */
export function mapAwsError(err: unknown, call: string): AisocError {
  const e = shape(err);
  const name = awsErrorName(err);
  const status = e.$metadata?.httpStatusCode;
  let code: ErrorCode = 'AISOC_ERR_ACTION_FAILED';
  if (classifyAwsError(err).reason === 'throttled') code = 'AISOC_ERR_ACTION_THROTTLED';
  else if (ACCESS_DENIED.has(name) || status === 403) code = 'AISOC_ERR_ACTION_ACCESS_DENIED';
  else if (NOT_FOUND.has(name) || name.endsWith('.NotFound') || status === 404)
    code = 'AISOC_ERR_ACTION_NOT_FOUND';
  const details: Record<string, unknown> = { call, aws_error: name };
  if (status !== undefined) details.http_status = status;
  if (e.$metadata?.requestId) details.request_id = e.$metadata.requestId;
  return new AisocError(code, `${call} failed: ${name}: ${e.message ?? 'no message'}`, { details });
}

const READ_ONLY = /^(Describe|Get|List)/;

/**
 * Make one AWS call with the run's retry policy and signal. `call` is
 * `Service Operation` (`IAM UpdateAccessKey`); operations that do not start
 * with Describe, Get or List are state-changing and are refused in dry runs.
 * Final failures are typed: ACCESS_DENIED, NOT_FOUND, THROTTLED or FAILED,
 * with AWS's error code in `details.aws_error`; `raw: true` rethrows the
 * SDK error instead, for callers that treat some codes as outcomes.
 *
 * @example
 * const { sdk, client } = await iam();
 * const out = await awsCall(run, 'IAM ListAccessKeys', (abortSignal) =>
 *   client.send(new sdk.ListAccessKeysCommand({ UserName }), { abortSignal }));
 */
export async function awsCall<T>(
  run: RunContext,
  call: string,
  send: (abortSignal: AbortSignal) => Promise<T>,
  options: { raw?: boolean } = {},
): Promise<T> {
  const operation = call.split(' ').pop() ?? call;
  if (!READ_ONLY.test(operation)) run.assertMayMutate(call);
  try {
    return await withRetry(() => send(run.signal), {
      policy: run.retry,
      signal: run.signal,
      classify: classifyAwsError,
      onRetry: (err, attempt, delayMs, verdict) =>
        run.logger.debug(
          {
            call,
            attempt,
            delay_ms: Math.round(delayMs),
            reason: verdict.reason,
            aws_error: awsErrorName(err),
          },
          `Retrying ${call} after ${verdict.reason}.`,
        ),
    });
  } catch (err) {
    if (run.signal.aborted || options.raw) throw err;
    throw mapAwsError(err, call);
  }
}
