import { describe, expect, it } from 'vitest';
import { validateJson } from '../json-schema.ts';
import { fitToSchema } from './fit.ts';
import { TEST_VERDICT_SCHEMA } from './schema.ts';

describe('fitToSchema', () => {
  it('shapes any value to a value the schema accepts', () => {
    const inputs = [
      {},
      { severity: 'huge', confidence: 7, iocs: [{ value: 1, extra: true }], more: 'x' },
      null,
      'text',
      { summary: 42, is_true_positive: 'yes' },
    ];
    for (const input of inputs) {
      const fitted = fitToSchema(input, TEST_VERDICT_SCHEMA);
      expect(validateJson(TEST_VERDICT_SCHEMA, fitted)).toEqual([]);
    }
    expect(fitToSchema({ severity: 'huge', confidence: 7, extra: 1 }, TEST_VERDICT_SCHEMA)).toEqual({
      severity: 'informational',
      is_true_positive: false,
      confidence: 1,
      summary: '',
      iocs: [],
    });
  });

  it('keeps what already fits', () => {
    const v = {
      severity: 'high',
      is_true_positive: true,
      confidence: 0.5,
      summary: 's',
      iocs: [{ ioc_type: 'ip', value: 'v' }],
    };
    expect(fitToSchema(v, TEST_VERDICT_SCHEMA)).toEqual(v);
  });
});
