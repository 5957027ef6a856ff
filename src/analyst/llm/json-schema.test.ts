import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { TriageResponse } from '../../schema/verdict.ts';
import { type JsonSchema, modelOutputSchema, validateJson } from './json-schema.ts';

describe('validateJson', () => {
  const schema: JsonSchema = {
    type: 'object',
    additionalProperties: false,
    required: ['severity', 'tags', 'priority'],
    properties: {
      severity: { type: 'string', enum: ['low', 'high'] },
      tags: { type: 'array', items: { type: 'string', pattern: '^T\\d{4}$' }, maxItems: 2 },
      priority: { type: 'integer', minimum: 1, maximum: 5 },
      note: { type: ['string', 'null'], maxLength: 5 },
      kind: { const: 'verdict' },
      reason: { anyOf: [{ type: 'string' }, { type: 'null' }] },
    },
  };

  it('accepts a conforming value', () => {
    expect(
      validateJson(schema, { severity: 'low', tags: ['T1110'], priority: 2, note: null, reason: null }),
    ).toEqual([]);
  });

  it('reports each failing field with its path', () => {
    expect(
      validateJson(schema, {
        severity: 'huge',
        tags: ['T1110', 'x', 'T1078'],
        priority: 2.5,
        note: 'too long',
        kind: 'other',
        reason: 3,
        extra: true,
      }),
    ).toEqual([
      { path: 'severity', message: 'must be one of "low", "high"' },
      { path: 'tags', message: 'must have at most 2 items' },
      { path: 'tags[1]', message: 'must match ^T\\d{4}$' },
      { path: 'priority', message: 'must be integer, not number' },
      { path: 'note', message: 'must be at most 5 characters' },
      { path: 'kind', message: 'must be "verdict"' },
      { path: 'reason', message: 'must be string, not integer' },
      { path: 'extra', message: 'is not allowed (no such field)' },
    ]);
  });

  it('reports missing fields and wrong root types', () => {
    expect(validateJson(schema, {}).map((i) => i.path)).toEqual(['severity', 'tags', 'priority']);
    expect(validateJson(schema, [])).toEqual([{ path: '(root)', message: 'must be object, not array' }]);
  });

  it('follows local $refs and stops on self-reference depth', () => {
    const tree: JsonSchema = {
      $ref: '#/$defs/node',
      $defs: {
        node: { type: 'object', properties: { child: { $ref: '#/$defs/node' }, n: { type: 'number' } } },
      },
    };
    expect(validateJson(tree, { child: { child: { n: 'x' } } })).toEqual([
      { path: 'child.child.n', message: 'must be number, not string' },
    ]);
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 100; i++) deep = { child: deep };
    expect(validateJson(tree, deep)[0]?.message).toBe('is nested too deeply');
  });

  it('validates against the schema zod emits for the verdict contract', () => {
    const emitted = z.toJSONSchema(
      TriageResponse.pick({ severity: true, confidence: true, iocs: true, recommendations: true }),
      {
        io: 'input',
      },
    ) as JsonSchema;
    expect(
      validateJson(emitted, {
        severity: 'high',
        confidence: 0.9,
        iocs: [{ ioc_type: 'ip', value: '203.0.113.1', confidence: 0.8 }],
        recommendations: [{ action: 'Block', priority: 1, rationale: 'source' }],
      }),
    ).toEqual([]);
    expect(
      validateJson(emitted, {
        severity: 'high',
        confidence: 0.9,
        recommendations: [{ action: 'x', priority: 9 }],
      }),
    ).toEqual([
      { path: 'recommendations[0].rationale', message: 'is required' },
      { path: 'recommendations[0].priority', message: 'must be ≤ 5' },
    ]);
  });
});

describe('modelOutputSchema', () => {
  it('leaves out what a model is not sent, but not a property called description', () => {
    const schema = modelOutputSchema(
      z.object({
        description: z.string().describe('a field of the answer'),
        tags: z.array(z.string()).default([]),
      }),
    );
    expect(schema).toEqual({
      type: 'object',
      properties: { description: { type: 'string' }, tags: { type: 'array', items: { type: 'string' } } },
      required: ['description', 'tags'],
      additionalProperties: false,
    });
  });

  it('refuses a schema strict backends would refuse: an optional field, an open object, a reference', () => {
    expect(() => modelOutputSchema(z.object({ a: z.string(), b: z.string().optional() }))).toThrow(
      /at \(root\): b must be required/,
    );
    expect(() => modelOutputSchema(z.object({ a: z.object({ b: z.string() }).passthrough() }))).toThrow(
      /at a: an object must not allow other properties/,
    );
    const Node: z.ZodType = z.object({
      name: z.string(),
      get children() {
        return z.array(Node);
      },
    });
    expect(() => modelOutputSchema(Node)).toThrow(/references/);
  });
});
