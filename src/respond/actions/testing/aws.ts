import type { AwsStub } from 'aws-sdk-client-mock';
import { expect } from 'vitest';

/**
 * An error shaped as the AWS SDK v3 throws them (name, `$fault`,
 * `$metadata.httpStatusCode`), for fakes built with `aws-sdk-client-mock`.
 *
 * @example ec2Mock.on(DescribeInstancesCommand).rejectsOnce(awsError('RequestLimitExceeded', 'Request limit exceeded.', 503));
 */
export function awsError(name: string, message: string, status = 400): Error {
  return Object.assign(new Error(message), {
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status, requestId: '00000000-0000-4000-8000-000000000000', attempts: 1 },
  });
}

// biome-ignore lint/suspicious/noExplicitAny: stubs of every client are mixed in one log.
type AnyStub = AwsStub<any, any, any>;

interface SinonCallLike {
  callId: number;
  args: unknown[];
}

/**
 * Every call the stubs received, in the order they were made, as
 * `[Operation, input]` (e.g. `['UpdateAccessKey', { … }]`).
 */
export function callLog(...stubs: AnyStub[]): Array<[string, unknown]> {
  const all: SinonCallLike[] = stubs.flatMap((s) => s.calls() as unknown as SinonCallLike[]);
  return all
    .sort((a, b) => a.callId - b.callId)
    .map((c) => {
      const cmd = c.args[0] as { constructor: { name: string }; input: unknown };
      return [cmd.constructor.name.replace(/Command$/, ''), cmd.input];
    });
}

const READ_ONLY = /^(Describe|Get|List)/;

/** The state-changing calls in a stub log (anything but Describe*, Get*, List*). */
export function mutatingCalls(...stubs: AnyStub[]): string[] {
  return callLog(...stubs)
    .map(([op]) => op)
    .filter((op) => !READ_ONLY.test(op));
}

/** Assert the exact sequence of operations and parameters the stubs received. */
export function expectCalls(stubs: AnyStub[], expected: Array<[string, unknown]>): void {
  expect(callLog(...stubs)).toEqual(expected);
}

/** Retry settings that keep tests fast while still exercising back-off. */
export const FAST_RETRY = { max_attempts: 4, base_delay_ms: 1, max_delay_ms: 5 };
