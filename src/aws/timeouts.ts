/**
 * Each function's timeout, in seconds: the CDK app sets them (infra/), and
 * the detection function holds the correlate lock for at most its own.
 */
export const FUNCTION_TIMEOUT_S = {
  normalise: 30,
  detect: 300,
  score: 30,
  analyse: 120,
  remediate: 60,
  store: 30,
  index: 30,
} as const;

export type FunctionName = keyof typeof FUNCTION_TIMEOUT_S;
