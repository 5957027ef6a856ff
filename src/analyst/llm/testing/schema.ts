import type { JsonSchema } from '../json-schema.ts';

/**
 * A compact verdict schema for backend tests, in the strict form OpenAI
 * structured outputs accept (every property required, no additional ones).
 */
export const TEST_VERDICT_SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['severity', 'is_true_positive', 'confidence', 'summary', 'iocs'],
  properties: {
    severity: { type: 'string', enum: ['informational', 'low', 'medium', 'high', 'critical'] },
    is_true_positive: { type: 'boolean' },
    confidence: { type: 'number', minimum: 0, maximum: 1 },
    summary: { type: 'string' },
    iocs: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['ioc_type', 'value'],
        properties: { ioc_type: { type: 'string' }, value: { type: 'string' } },
      },
    },
  },
};

/** A verdict that satisfies {@link TEST_VERDICT_SCHEMA}. */
export const VALID_VERDICT = {
  severity: 'high',
  is_true_positive: true,
  confidence: 0.82,
  summary: 'Brute force against sshd from 203.0.113.45 followed by a successful login.',
  iocs: [{ ioc_type: 'ip', value: '203.0.113.45' }],
};
